#include "run_command.hpp"

#include "child_launch.hpp"
#include "columns.hpp"
#include "command_line.hpp"
#include "config_templates.hpp"
#include "duration.hpp"
#include "exhaustion_json.hpp"
#include "exit_codes.hpp"
#include "instance_choice.hpp"
#include "machine_output.hpp"
#include "resource_limits.hpp"
#include "restart_policy.hpp"
#include "service_copies.hpp"
#include "supervisor.hpp"

#include <portpool/instance_manager.hpp>
#include <portpool/port_shield.hpp>

#include <unistd.h>

#include <boost/asio/post.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace portpool::cli {
namespace {

/// What `run` holds while CMD runs: the port (with its listening socket for --socket), and the
/// instance number when its lock was free.
struct Holding {
  std::optional<InstanceLease> instance;
  std::optional<PortLease> lease;
  std::optional<ListeningLease> listening;

  PortLease& port() { return listening ? listening->lease : *lease; }
  int listening_socket() { return listening ? static_cast<int>(listening->acceptor.native_handle()) : -1; }
};

Holding take_port(const RunArguments& arguments, const RunPorts& ports, Options options,
                  std::optional<InstanceLease> instance, boost::asio::io_context& context,
                  std::chrono::milliseconds wait) {
  if (instance) {
    options.instance = instance->number();
    options.instance_id = instance->id();
  }
  Holding holding;
  holding.instance = std::move(instance);
  if (arguments.socket) {
    holding.listening.emplace(ports.acquire_listening(options, context.get_executor(), wait));
  } else {
    holding.lease.emplace(ports.acquire(options, wait));
  }
  return holding;
}

// Explicit --instance N: its lock too when it is free (a copy started with --instance auto then
// skips N); when another copy holds it, the port alone, as asked.
Holding take_instance_port(const RunArguments& arguments, const RunPorts& ports, const Options& options,
                           unsigned number, boost::asio::io_context& context, std::chrono::milliseconds wait) {
  std::optional<InstanceLease> instance;
  try {
    instance.emplace(InstanceManager::acquire_number(options, number));
  } catch (const PoolExhausted&) {
    auto numbered = options;
    numbered.instance = number;
    return take_port(arguments, ports, numbered, std::nullopt, context, wait);
  }
  return take_port(arguments, ports, options, std::move(instance), context, wait);
}

// The refusals of `more` whose port is not in `refusals` yet (a shared pool is tried by every instance).
void add_new_ports(std::vector<Refusal>& refusals, const std::vector<Refusal>& more) {
  for (const auto& refusal : more) {
    auto known = std::find_if(refusals.begin(), refusals.end(),
                              [&](const Refusal& earlier) { return earlier.port == refusal.port; });
    if (known == refusals.end()) {
      refusals.push_back(refusal);
    }
  }
}

// --instance auto: the lowest instance whose lock is free and whose pool has a free port; with
// --wait, when there is none, the lowest instance whose lock is free, once its pool frees a port. An
// exhaustion lists, once each, the refusals of the ports of every instance whose number was free.
Holding take_any_instance_port(const RunArguments& arguments, const ServicePortTable& table, const RunPorts& ports,
                               const Options& options, boost::asio::io_context& context,
                               std::chrono::milliseconds wait) {
  std::string lines;
  std::vector<Refusal> refusals;
  for (unsigned number = 1; number <= table.layout().max; ++number) {
    try {
      auto instance = InstanceManager::acquire_number(options, number);
      return take_port(arguments, ports, options, std::move(instance), context, std::chrono::milliseconds::zero());
    } catch (const PoolExhausted& refusal) {
      std::string text = refusal.what();
      lines += fmt::format("\n  instance {}: {}", number, text.substr(0, text.find('\n')));
      add_new_ports(refusals, refusal.refusals());
    }
  }
  if (wait > std::chrono::milliseconds::zero()) {
    std::optional<InstanceLease> instance;
    try {
      instance.emplace(InstanceManager::acquire(options, table.layout().max));
    } catch (const PoolExhausted&) {
      // every instance number is taken: nothing to wait for
    }
    if (instance) {
      return take_port(arguments, ports, options, std::move(instance), context, wait);
    }
  }
  throw PoolExhausted(fmt::format("no instance of 1 to {} has a free port for '{}':{}\nStop one of these copies or "
                                  "holders, or raise the maximum number of instances.",
                                  table.layout().max, arguments.service, lines),
                      arguments.service, std::move(refusals));
}

// What `run` does when CMD's port is lost (`port`, `service`, why): called on the supervisor's
// context, the only thread that touches the child.
using PortLostHandler = std::function<void(std::uint16_t, const std::string&, const std::string&)>;

PortLostHandler lost_port_handler(const RunArguments& arguments, Supervisor& supervisor,
                                  std::chrono::milliseconds kill_grace, bool& port_lost) {
  const bool terminate = arguments.on_lost == "term";
  return [terminate, kill_grace, &supervisor, &port_lost](std::uint16_t port, const std::string& service,
                                                          const std::string& message) {
    std::cerr << fmt::format("portpool: port {} of '{}' is lost: {}\nportpool: {}\n", port, service,
                             printable_lines(message),
                             terminate ? "stopping the command (SIGTERM), and its whole tree (SIGKILL) if it runs "
                                         "after --kill-grace; --on-lost warn would let it run"
                                       : "the command keeps running (--on-lost warn)");
    if (terminate) {
      port_lost = true;
      supervisor.end_child_within(kill_grace);
    }
  };
}

TemplateValues template_values(const PortLease& lease) { return {lease.port(), lease.instance(), lease.service()}; }

// One line on standard error, before CMD starts: the port a user would otherwise look up in `status`.
void report_taken_port(const RunArguments& arguments, Holding& holding) {
  if (arguments.quiet) {
    return;
  }
  const auto& lease = holding.port();
  if (arguments.common.json) {
    std::cerr << nlohmann::ordered_json{{format_version_key, format_version},
                                        {"event", "held"},
                                        {"service", lease.service()},
                                        {"port", lease.port()},
                                        {"transport", to_string(lease.transport())},
                                        {"instance", lease.instance()},
                                        {"pid", ::getpid()}}
                     .dump()
              << '\n';
  } else {
    std::cerr << fmt::format("portpool: {} holds port {} (instance {})\n", lease.service(), lease.port(),
                             lease.instance());
  }
  std::cerr.flush();
}

LaunchRequest launch_request(const RunArguments& arguments, const std::string& program, Holding& holding,
                             std::chrono::milliseconds kill_grace) {
  const auto& lease = holding.port();
  LaunchRequest request;
  request.program = program;
  request.arguments = substitute_port(arguments.command, lease.port());
  request.environment =
      child_environment({lease.port(), lease.service(), lease.instance(), holding.listening.has_value()});
  request.listening_socket = holding.listening_socket();
  request.lock_descriptor = lease.lock_descriptor();
  request.kill_grace = kill_grace;
  return request;
}

std::unique_ptr<PortShield> shield(Holding& holding, Supervisor& supervisor, PortLostHandler on_port_lost) {
  auto on_lost = [on_port_lost = std::move(on_port_lost)](const ShieldEvent& event) {
    on_port_lost(event.port, event.service, event.message);
  };
  ShieldOptions options;
  options.listener_process_trees = {::getpid()};  // the keepers are subreapers: nothing leaves the tree
  auto executor = supervisor.context().get_executor();
  if (holding.listening) {
    return std::make_unique<PortShield>(executor, *holding.listening, std::move(on_lost), options);
  }
  return std::make_unique<PortShield>(executor, *holding.lease, std::move(on_lost), options);
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments) {
  auto* command = app.add_subcommand("run",
                                     "Take a port of SERVICE's pool and run CMD with it, holding the port "
                                     "until CMD and every process it started have ended");
  command
      ->add_option("--instance", arguments.instance,
                   "instance number, 'auto' for the lowest usable one, 'from-env' for the test runner's worker, or "
                   "'from-env=VAR' for the number in $VAR ('from-env=VAR+1' when $VAR counts from 0)")
      ->type_name("N|auto|from-env[=VAR[+1]]");
  command->add_flag("--socket", arguments.socket,
                    "pass the bound, listening socket to CMD as descriptor 3 (LISTEN_FDS=1, LISTEN_PID)");
  command->add_option("--on-lost", arguments.on_lost, "when the port is lost: term (SIGTERM to CMD) or warn")
      ->check(CLI::IsMember({"term", "warn"}));
  command
      ->add_option("--kill-grace", arguments.kill_grace,
                   "how long processes CMD leaves behind get after SIGTERM before SIGKILL (default 5s)")
      ->type_name("DURATION");
  command->add_option("--restart", arguments.restart, "restart CMD when it exits: no (default), on-failure, always")
      ->check(CLI::IsMember({"no", "on-failure", "always"}));
  command->add_option("--restart-delay", arguments.restart_delay, "pause before a restart (default 100ms)")
      ->type_name("DURATION");
  command->add_option("--max-restarts", arguments.max_restarts, "give up after N restarts (default: no limit)")
      ->type_name("N");
  command
      ->add_option("--ready", arguments.ready,
                   "notify: CMD says when it is ready (READY=1 on $NOTIFY_SOCKET, as sd_notify); with --socket, "
                   "SIGHUP then reloads CMD without refusing a connection. accept (without --socket): ready once "
                   "a connection to the port succeeds")
      ->check(CLI::IsMember({"notify", "accept"}));
  command
      ->add_option("--ready-timeout", arguments.ready_timeout,
                   "how long a reloaded copy may take to be ready (default 30s)")
      ->type_name("DURATION");
  command
      ->add_option("--wait", arguments.wait,
                   "when SERVICE's pool is exhausted, wait up to DURATION for one of its ports to be released "
                   "(default: no wait; exit 75 when none is)")
      ->type_name("DURATION");
  command
      ->add_option("--template", arguments.templates,
                   "before each start of CMD, write DST from the template SRC with {port}, {instance} and {service} "
                   "replaced (repeatable): for servers that read their port from a config file")
      ->type_name("SRC:DST")
      ->allow_extra_args(false);  // one value per --template: SERVICE follows
  command->add_flag("--quiet", arguments.quiet,
                    "do not print the line that says which port was taken (with --json, a JSON line)");
  add_common_options(*command, arguments.common);
  add_description_options(*command, arguments.description);
  add_fleet_run_options(*command, arguments.fleet);
  command->add_option("SERVICE", arguments.service, "the service whose pool the port comes from")->required();
  command->add_option("CMD", arguments.command, "the command to run and its arguments, after '--'")->required();
  return command;
}

int run_run_command(const RunArguments& arguments) {
  require_free_descriptors(descriptors_needed);
  auto kill_grace = parse_duration(arguments.kill_grace, "--kill-grace");
  auto wait = arguments.wait.empty() ? std::chrono::milliseconds::zero() : parse_duration(arguments.wait, "--wait");
  CopySettings copy_settings;
  copy_settings.notify_expected = arguments.ready == "notify";
  copy_settings.probe_connections = arguments.ready == "accept";
  if (copy_settings.probe_connections && arguments.socket) {
    throw UsageError(
        "--ready accept cannot tell whether CMD accepts on a socket that portpool listens on itself (the kernel "
        "accepts connections into its queue first): with --socket, use --ready notify");
  }
  copy_settings.reload_on_hangup = copy_settings.notify_expected && arguments.socket;
  copy_settings.ready_timeout = parse_duration(arguments.ready_timeout, "--ready-timeout");
  auto restart = restart_policy(arguments.restart, parse_duration(arguments.restart_delay, "--restart-delay"),
                                arguments.max_restarts);
  Supervisor supervisor(kill_grace);
  auto table = load_port_table(arguments.common);
  require_service(table, arguments.service);
  auto instance = chosen_instance(arguments.instance, table);
  auto program = resolve_program(arguments.command.front());
  auto templates = parse_templates(arguments.templates);

  auto options = library_options(arguments.common);
  options.description = description_from(arguments.description);
  bool port_lost = false;
  // The fleet claims' loss comes on their own thread, and is acted on like the shield's on the
  // supervisor's context, which runs only once the port is held and `on_claims_lost` is set.
  std::function<void(const std::string&)> on_claims_lost;
  ClaimsLossHandling claims_loss{kill_grace, [&supervisor, &on_claims_lost](const std::string& message) {
                                   boost::asio::post(supervisor.context(),
                                                     [&on_claims_lost, message] { on_claims_lost(message); });
                                 }};
  RunPorts ports(table, arguments.service, arguments.fleet, claims_loss);
  auto holding = reporting_exhaustion(arguments.common.json, arguments.service, [&] {
    return instance ? take_instance_port(arguments, ports, options, *instance, supervisor.context(), wait)
                    : take_any_instance_port(arguments, table, ports, options, supervisor.context(), wait);
  });
  report_taken_port(arguments, holding);
  if (!templates.empty()) {
    copy_settings.before_start = [&templates, values = template_values(holding.port())] {
      render_templates(templates, values);
    };
  }
  ServiceCopies copies(supervisor, holding.port(), launch_request(arguments, program, holding, kill_grace),
                       copy_settings);
  auto on_port_lost = lost_port_handler(arguments, supervisor, kill_grace, port_lost);
  on_claims_lost = [&on_port_lost, &holding, &arguments](const std::string& message) {
    on_port_lost(holding.port().port(), arguments.service, "its fleet claim: " + message);
  };
  auto launched = copies.start();
  auto watch = shield(holding, supervisor, on_port_lost);
  for (int restarts = 0;; ++restarts) {
    int status = supervisor.supervise(launched);
    supervisor.end_retired();
    if (port_lost || supervisor.stop_requested() || !restart.wants(status, restarts)) {
      return status;
    }
    std::cerr << fmt::format("portpool: CMD exited with status {}; restarting it ({} of {}), port {} stays held\n",
                             status, restarts + 1, restart.limit_text(), holding.port().port());
    if (!supervisor.pause(restart.delay) || port_lost) {
      return status;
    }
    launched = copies.start();
  }
}

}  // namespace portpool::cli
