#include "lease_command.hpp"

#include "descriptor_server.hpp"
#include "duration.hpp"
#include "exhaustion_json.hpp"
#include "exit_codes.hpp"
#include "held_port.hpp"
#include "instance_choice.hpp"
#include "lease_end.hpp"
#include "machine_output.hpp"
#include "port_wait.hpp"

#include <portpool/instance_manager.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/transport.hpp>

#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <optional>
#include <system_error>
#include <vector>

namespace portpool::cli {
namespace {

// Everything that lives as long as the lease, destroyed in reverse order: the socket server goes
// first, the instance number last.
struct HeldLease {
  std::optional<InstanceLease> instance;
  boost::asio::io_context context;  // only owns the sockets; never run
  HeldPort taken;
  std::optional<DescriptorServer> server;
};

// The port with the sockets of the manager's transport: listening for tcp, bound for udp, both for both.
void take_sockets(HeldLease& held, PortPoolManager& manager, std::chrono::milliseconds wait,
                  const std::function<bool()>& ended) {
  auto executor = held.context.get_executor();
  switch (manager.transport()) {
    case Transport::tcp:
      held.taken.listening = take_waiting(
          wait, [&](std::chrono::milliseconds timeout) { return manager.acquire_listening_for(executor, timeout); },
          ended);
      break;
    case Transport::udp:
      held.taken.datagram = take_waiting(
          wait, [&](std::chrono::milliseconds timeout) { return manager.acquire_datagram_for(executor, timeout); },
          ended);
      break;
    case Transport::both:
      held.taken.tcp_and_udp = take_waiting(
          wait, [&](std::chrono::milliseconds timeout) { return manager.acquire_tcp_and_udp_for(executor, timeout); },
          ended);
      break;
  }
}

Options lease_options(const LeaseArguments& arguments, const ServicePortTable& table, HeldLease& held) {
  auto options = library_options(arguments.common);
  options.application_pid = ::getppid();  // the program that asked for the port is its holder to users
  options.description = description_from(arguments.description);
  options.transport = transport_from(arguments.description, table, arguments.service);
  if (auto number = chosen_instance(arguments.instance, table)) {
    options.instance = *number;
  } else {
    held.instance = InstanceManager::acquire(options, table.layout().max);
    options.instance = held.instance->number();
    options.instance_id = held.instance->id();
  }
  return options;
}

void print_line(const LeaseArguments& arguments, const PortLease& lease, const std::filesystem::path& lock_dir) {
  nlohmann::ordered_json line{{format_version_key, format_version}, {"port", lease.port()},
                              {"service", lease.service()},         {"transport", to_string(lease.transport())},
                              {"instance", lease.instance()},       {"instance_id", lease.instance_id()},
                              {"lock_dir", lock_dir.string()}};
  if (!arguments.socket_path.empty()) {
    line["socket_path"] = arguments.socket_path;
  }
  auto text = line.dump() + '\n';
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot write the lease to standard output");
  }
}

}  // namespace

CLI::App* add_lease_command(CLI::App& app, LeaseArguments& arguments) {
  auto* command = app.add_subcommand("lease",
                                     "Take a port of SERVICE's pool, print it as a JSON line and hold it until "
                                     "standard input ends, the parent process dies or SIGTERM");
  command
      ->add_option("--instance", arguments.instance,
                   "instance number, 'auto' for the lowest free one, 'from-env' for the test runner's worker, or "
                   "'from-env=VAR' for the number in $VAR ('from-env=VAR+1' when $VAR counts from 0)")
      ->type_name("N|auto|from-env[=VAR[+1]]");
  command
      ->add_option("--socket-path", arguments.socket_path,
                   "bind the port's socket and hand it to every client of the Unix socket PATH: listening for a "
                   "tcp service, bound for udp; for both, the TCP socket then the UDP socket in one message")
      ->type_name("PATH");
  command
      ->add_option("--parent-pid", arguments.parent_pid,
                   "the parent's pid, as the parent knows it: if the parent is gone already, the lease ends at once")
      ->type_name("PID")
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--wait", arguments.wait,
                   "when SERVICE's pool is exhausted, wait up to DURATION for one of its ports to be released "
                   "(default: no wait; exit 75 when none is)")
      ->type_name("DURATION");
  add_common_options(*command, arguments.common);
  add_description_options(*command, arguments.description);
  command->add_option("SERVICE", arguments.service, "the service whose pool the port comes from")->required();
  return command;
}

int run_lease_command(const LeaseArguments& arguments) {
  const LeaseEnd end(arguments.parent_pid);
  if (end.parent_gone()) {
    return exit_code::success;  // nobody is left to use the port
  }
  auto table = load_port_table(arguments.common);
  require_service(table, arguments.service);
  const auto wait =
      arguments.wait.empty() ? std::chrono::milliseconds::zero() : parse_duration(arguments.wait, "--wait");
  HeldLease held;
  auto options = reporting_exhaustion(arguments.common.json, arguments.service,
                                      [&] { return lease_options(arguments, table, held); });
  if (!arguments.socket_path.empty()) {
    held.server.emplace(arguments.socket_path);
  }
  PortPoolManager manager(table, arguments.service, options);
  auto ended = [&] { return end.ended(); };
  reporting_exhaustion(arguments.common.json, arguments.service, [&] {
    if (held.server) {
      take_sockets(held, manager, wait, ended);
    } else {
      held.taken.lease = take_waiting(
          wait, [&](std::chrono::milliseconds timeout) { return manager.acquire_for(timeout); }, ended);
    }
  });
  if (!held.taken.holds()) {
    return exit_code::success;  // the lease ended while it waited: nobody is left to use a port
  }
  print_line(arguments, held.taken.port(), manager.lock_dir());
  if (!held.server) {
    end.wait();
    return exit_code::success;
  }
  const auto shared = held.taken.sockets();
  const unsigned port = held.taken.port().port();
  end.wait(held.server->descriptor(), [&] { held.server->serve_one(shared, port); });
  return exit_code::success;
}

}  // namespace portpool::cli
