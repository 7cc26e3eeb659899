#include "fleet_options.hpp"

namespace portpool::cli {

void add_fleet_status_options(CLI::App& command, FleetStatusArguments& arguments) {
  command.add_flag("--fleet", arguments.fleet, "show every host's holders, from etcd (needs --etcd)");
  command.add_flag("--watch", arguments.watch,
                   "then print every change (acquired, released, lost, changed) as it happens, one line each, until "
                   "interrupted; with --fleet, of every host");
  fleet_command_line::add_etcd_options(command, arguments.etcd);
}

CLI::App* add_publish_command(CLI::App& app, PublishArguments& arguments) {
  auto* command = app.add_subcommand("publish", "Mirror this host's holders into etcd (the fleet registry)");
  fleet_command_line::add_etcd_options(*command, arguments.etcd);
  command->add_option("--host-id", arguments.host_id, "this host's id in etcd (default: /etc/machine-id)")
      ->type_name("ID");
  command->add_option("--ttl", arguments.ttl, "lease TTL: keys vanish this long after the agent dies (default 10s)")
      ->type_name("DURATION");
  command->add_option("--address", arguments.address, "host name or address to publish (default: the host name)")
      ->type_name("HOST");
  command
      ->add_option("--lock-dir", arguments.common.lock_dir,
                   "lock directory (default: $PORTPOOL_LOCK_DIR, else a private one)")
      ->type_name("DIR");
  return command;
}

CLI::App* add_fleet_init_command(CLI::App& app, FleetInitArguments& arguments) {
  auto* command = app.add_subcommand(
      "fleet-init",
      "Seed a new etcd cluster for fleet-exclusive pools: create the fleet's epoch marker, so that the first "
      "claims count at once instead of after the claims' TTL plus the stop margin. Only for a cluster known to be "
      "new, never one that lost its data while holders may still run");
  fleet_command_line::add_etcd_options(*command, arguments.etcd);
  command->add_option("--host-id", arguments.host_id, "who seeded, recorded in the marker (default: /etc/machine-id)")
      ->type_name("ID");
  return command;
}

}  // namespace portpool::cli
