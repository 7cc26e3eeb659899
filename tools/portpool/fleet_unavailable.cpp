// The fleet commands of a portpool built without the fleet component (no gRPC found): the options
// parse as usual, and running them says what is missing.

#include "exit_codes.hpp"
#include "fleet_options.hpp"

namespace portpool::cli {
namespace {

[[noreturn]] void unavailable() {
  throw CommandError(
      "this portpool was built without the fleet component (etcd over gRPC): rebuild it with gRPC and "
      "protobuf installed (Debian: libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc)",
      exit_code::etcd_unavailable);
}

}  // namespace

CLI::App* add_publish_command(CLI::App& app, PublishArguments& arguments) {
  auto* command = app.add_subcommand("publish", "Mirror this host's holders into etcd (not built in)");
  fleet_command_line::add_etcd_options(*command, arguments.etcd);
  command->add_option("--host-id", arguments.host_id);
  command->add_option("--ttl", arguments.ttl);
  command->add_option("--address", arguments.address);
  command->add_option("--lock-dir", arguments.common.lock_dir);
  return command;
}

CLI::App* add_fleet_init_command(CLI::App& app, FleetInitArguments& arguments) {
  auto* command = app.add_subcommand("fleet-init", "Seed a new etcd cluster for fleet claims (not built in)");
  fleet_command_line::add_etcd_options(*command, arguments.etcd);
  command->add_option("--host-id", arguments.host_id);
  return command;
}

int run_publish_command(const PublishArguments& /*arguments*/) { unavailable(); }

int run_fleet_init_command(const FleetInitArguments& /*arguments*/) { unavailable(); }

int run_fleet_status(const FleetStatusArguments& /*arguments*/, bool /*json*/) { unavailable(); }

}  // namespace portpool::cli
