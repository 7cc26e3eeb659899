#include "run_command.hpp"

#include "child_launch.hpp"
#include "command_line.hpp"
#include "exit_codes.hpp"
#include "supervisor.hpp"

#include <portpool/instance_manager.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/port_shield.hpp>

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <iostream>
#include <optional>
#include <utility>

namespace portpool::cli {
namespace {

constexpr const char* automatic_instance = "auto";

/// The instance number asked for, or nullopt for `auto`.
std::optional<unsigned> requested_instance(const std::string& text, const ServicePortTable& table) {
  if (text == automatic_instance) {
    return std::nullopt;
  }
  unsigned number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc{} || end != text.data() + text.size()) {
    throw UsageError(
        fmt::format("--instance {} is neither a number nor 'auto': give 1 to {}, or auto", text, table.layout().max));
  }
  require_instance(table, number);
  return number;
}

// Called on the supervisor's context, the only thread that touches the child.
std::function<void(const ShieldEvent&)> lost_port_handler(const RunArguments& arguments, Supervisor& supervisor) {
  const bool terminate = arguments.on_lost == "term";
  return [terminate, &supervisor](const ShieldEvent& event) {
    std::cerr << fmt::format("portpool: port {} of '{}' is lost: {}\nportpool: {}\n", event.port, event.service,
                             event.message,
                             terminate ? "stopping the command (SIGTERM); --on-lost warn would let it run"
                                       : "the command keeps running (--on-lost warn)");
    if (terminate) {
      supervisor.terminate_child();
    }
  };
}

LaunchRequest launch_request(const RunArguments& arguments, const std::string& program, const PortLease& lease,
                             int listening_socket, const Supervisor& supervisor) {
  LaunchRequest request;
  request.program = program;
  request.arguments = substitute_port(arguments.command, lease.port());
  request.environment = child_environment({lease.port(), lease.service(), lease.instance(), listening_socket >= 0});
  request.listening_socket = listening_socket;
  request.signal_mask = supervisor.original_mask();
  return request;
}

// The listening socket stays open here too, so that the shield knows it as this process's own.
int run_with_socket(const RunArguments& arguments, const std::string& program, PortPoolManager& manager,
                    Supervisor& supervisor) {
  auto listening = manager.acquire_listening(supervisor.context().get_executor());
  auto child =
      launch(launch_request(arguments, program, listening.lease, listening.acceptor.native_handle(), supervisor));
  PortShield shield(supervisor.context().get_executor(), listening, lost_port_handler(arguments, supervisor));
  return supervisor.supervise(child);
}

// CMD listens on the port itself, in its own process: the shield is told that CMD's listeners are
// the service's, which it can only be once CMD's pid is known.
int run_without_socket(const RunArguments& arguments, const std::string& program, PortPoolManager& manager,
                       Supervisor& supervisor) {
  auto lease = manager.acquire();
  auto child = launch(launch_request(arguments, program, lease, -1, supervisor));
  ShieldOptions shield_options;
  shield_options.listener_processes = {child};
  PortShield shield(supervisor.context().get_executor(), lease, lost_port_handler(arguments, supervisor),
                    shield_options);
  return supervisor.supervise(child);
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments) {
  auto* command = app.add_subcommand("run",
                                     "Take a port of SERVICE's pool and run CMD with it, holding the port "
                                     "until CMD ends");
  command->add_option("--instance", arguments.instance, "instance number, or 'auto' for the lowest free one")
      ->type_name("N|auto");
  command->add_flag("--socket", arguments.socket,
                    "pass the bound, listening socket to CMD as descriptor 3 (LISTEN_FDS=1, LISTEN_PID)");
  command->add_option("--on-lost", arguments.on_lost, "when the port is lost: term (SIGTERM to CMD) or warn")
      ->check(CLI::IsMember({"term", "warn"}));
  add_common_options(*command, arguments.common);
  add_description_options(*command, arguments.description);
  command->add_option("SERVICE", arguments.service, "the service whose pool the port comes from")->required();
  command->add_option("CMD", arguments.command, "the command to run and its arguments, after '--'")->required();
  return command;
}

int run_run_command(const RunArguments& arguments) {
  Supervisor supervisor;
  auto table = load_port_table(arguments.common);
  require_service(table, arguments.service);
  auto instance = requested_instance(arguments.instance, table);
  auto program = resolve_program(arguments.command.front());

  auto options = library_options(arguments.common);
  options.description = description_from(arguments.description);
  std::optional<InstanceLease> instance_lease;
  if (instance) {
    options.instance = *instance;
  } else {
    instance_lease = InstanceManager::acquire(options, table.layout().max);
    options.instance = instance_lease->number();
    options.instance_id = instance_lease->id();
  }
  PortPoolManager manager(table, arguments.service, options);
  return arguments.socket ? run_with_socket(arguments, program, manager, supervisor)
                          : run_without_socket(arguments, program, manager, supervisor);
}

}  // namespace portpool::cli
