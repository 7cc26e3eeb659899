#include "run_command.hpp"

#include "adoption.hpp"
#include "bind_adoption.hpp"
#include "child_launch.hpp"
#include "columns.hpp"
#include "command_line.hpp"
#include "config_templates.hpp"
#include "duration.hpp"
#include "exhaustion_json.hpp"
#include "exit_codes.hpp"
#include "held_port.hpp"
#include "instance_choice.hpp"
#include "liveness.hpp"
#include "machine_output.hpp"
#include "pid_file.hpp"
#include "resource_limits.hpp"
#include "restart_policy.hpp"
#include "service_copies.hpp"
#include "supervisor.hpp"

#include <portpool/instance_manager.hpp>
#include <portpool/port_shield.hpp>
#include <portpool/service_description.hpp>
#include <portpool/service_port_table.hpp>
#include <portpool/transport.hpp>

#include <unistd.h>

#include <boost/asio/post.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace portpool::cli {
namespace {

/// What `run` holds while CMD runs: the port (with its sockets for --socket), and the instance
/// number when its lock was free; the port is released first.
struct Holding {
  std::optional<InstanceLease> instance;
  HeldPort taken;
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
  if (!arguments.socket && !arguments.adopt) {
    holding.taken.lease.emplace(ports.acquire(options, wait));
    return holding;
  }
  switch (*options.transport) {
    case Transport::tcp:
      holding.taken.listening.emplace(ports.acquire_listening(options, context.get_executor(), wait));
      break;
    case Transport::udp:
      holding.taken.datagram.emplace(ports.acquire_datagram(options, context.get_executor(), wait));
      break;
    case Transport::both:
      holding.taken.tcp_and_udp.emplace(ports.acquire_tcp_and_udp(options, context.get_executor(), wait));
      break;
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

// After a loss ended CMD (--on-lost term), `run` exits 69 whatever CMD's status was, so that a
// caller tells a lost port from CMD's own failure; CMD's status is said on standard error.
int exit_after_loss(int command_status) {
  std::cerr << fmt::format("portpool: CMD ended with status {} after its port was lost; exiting {}\n", command_status,
                           exit_code::port_lost);
  return exit_code::port_lost;
}

// How the line that reports the port names its transport: nothing for TCP, the default.
const char* transport_words(Transport transport) {
  switch (transport) {
    case Transport::udp:
      return "UDP ";
    case Transport::both:
      return "TCP and UDP ";
    case Transport::tcp:
      break;
  }
  return "";
}

TemplateValues template_values(const PortLease& lease) { return {lease.port(), lease.instance(), lease.service()}; }

/// --adopt: the port numbers whose binds get the held socket, and how.
struct Adoption {
  std::vector<std::uint16_t> ports;
  AdoptMode mode = AdoptMode::preload;
  std::string library;  ///< libportpool-adopt.so, for preload
};

// --adopt and --adopt-mode, checked before anything is taken (the transport is checked once known).
std::optional<Adoption> checked_adoption(const RunArguments& arguments, const std::string& program) {
  if (!arguments.adopt) {
    if (!arguments.adopt_mode.empty()) {
      throw UsageError("--adopt-mode says how the ports of --adopt are adopted: add --adopt PORT[,PORT...]");
    }
    return std::nullopt;
  }
  if (arguments.socket) {
    throw UsageError(
        "--adopt passes the port's listening socket to CMD already (as descriptor 3, for its binds of the adopted "
        "ports): leave --socket out, or leave --adopt out for a program that takes LISTEN_FDS");
  }
  Adoption adoption;
  adoption.ports = parse_adopted_ports(*arguments.adopt);
  adoption.mode = chosen_adopt_mode(arguments.adopt_mode, program);
  if (adoption.mode == AdoptMode::preload) {
    adoption.library = adopt_library_path();
  } else if (auto problem = seccomp_adoption_unavailable()) {
    throw CommandError(*problem, exit_code::unavailable);  // before anything is taken or started
  }
  return adoption;
}

void require_tcp_for_adoption(const std::optional<Adoption>& adoption, Transport transport,
                              const std::string& service) {
  if (adoption && transport == Transport::udp) {
    throw UsageError(fmt::format(
        "--adopt adopts TCP binds only for now, and '{}' is a udp service: use --socket (CMD gets the bound UDP "
        "socket as descriptor 3) or {{port}} in CMD's arguments",
        service));
  }
}

// How the line that reports the port says what binds get it: nothing without --adopt.
std::string adoption_words(const std::optional<Adoption>& adoption) {
  if (!adoption) {
    return "";
  }
  return fmt::format("; CMD's binds of port{} {} get it ({})", adoption->ports.size() == 1 ? "" : "s",
                     port_list(adoption->ports), to_string(adoption->mode));
}

// One line on standard error, before CMD starts: the port a user would otherwise look up in `status`.
void report_taken_port(const RunArguments& arguments, Holding& holding, const std::optional<Adoption>& adoption) {
  if (arguments.quiet) {
    return;
  }
  const auto& lease = holding.taken.port();
  if (arguments.common.json) {
    nlohmann::ordered_json event{{format_version_key, format_version},
                                 {"event", "held"},
                                 {"service", lease.service()},
                                 {"port", lease.port()},
                                 {"instance", lease.instance()},
                                 {"pid", ::getpid()},
                                 {"transport", to_string(lease.transport())}};
    if (adoption) {
      event["adopted_ports"] = adoption->ports;
      event["adopt_mode"] = to_string(adoption->mode);
    }
    std::cerr << event.dump() << '\n';
  } else {
    std::cerr << fmt::format("portpool: {} holds {}port {} (instance {}){}\n", lease.service(),
                             transport_words(lease.transport()), lease.port(), lease.instance(),
                             adoption_words(adoption));
  }
  std::cerr.flush();
}

// An adopted program is not socket-activated: it gets descriptor 3 without LISTEN_FDS.
LaunchRequest launch_request(const RunArguments& arguments, const std::string& program, Holding& holding,
                             const std::optional<Adoption>& adoption, std::chrono::milliseconds kill_grace) {
  const auto& lease = holding.taken.port();
  LaunchRequest request;
  request.program = program;
  request.arguments = substitute_port(arguments.command, lease.port());
  auto socket_names = adoption ? std::vector<std::string>() : holding.taken.socket_names();
  request.environment =
      child_environment({lease.port(), lease.service(), lease.instance(), socket_names, lease.fencing_token()});
  if (adoption) {
    request.adopted_ports = adoption->ports;
    request.adopt_by_seccomp = adoption->mode == AdoptMode::seccomp;
    if (adoption->mode == AdoptMode::preload) {
      request.environment =
          with_preload_environment(std::move(request.environment), adoption->ports, adoption->library);
    }
  }
  request.sockets = holding.taken.sockets();
  request.lock_descriptor = lease.lock_descriptor();
  request.kill_grace = kill_grace;
  request.forking = arguments.forking;
  return request;
}

// --forking and --pid-file: checked before anything is taken. Returns the pid file's absolute path
// (the keeper reads it from the directory `run` was started in), or empty.
std::string checked_pid_file(const RunArguments& arguments) {
  if (!arguments.forking) {
    if (!arguments.pid_file.empty()) {
      throw UsageError("--pid-file names the main process of a daemon run with --forking: add --forking");
    }
    return {};
  }
  if (!arguments.ready.empty()) {
    throw UsageError(
        "--ready does not apply with --forking: a forking service is ready when CMD's start-up ends (CMD exits 0, "
        "and the pid file names the main process); leave --ready out");
  }
  if (arguments.pid_file.empty()) {
    return {};
  }
  auto path = std::filesystem::absolute(arguments.pid_file).string();
  if (auto problem = unusable_pid_file(path); !problem.empty()) {
    throw UsageError(problem);
  }
  return path;
}

std::unique_ptr<PortShield> shield(Holding& holding, Supervisor& supervisor, PortLostHandler on_port_lost) {
  auto on_lost = [on_port_lost = std::move(on_port_lost)](const ShieldEvent& event) {
    on_port_lost(event.port, event.service, event.message);
  };
  ShieldOptions options;
  options.listener_process_trees = {::getpid()};  // the keepers are subreapers: nothing leaves the tree
  auto executor = supervisor.context().get_executor();
  if (holding.taken.listening) {
    return std::make_unique<PortShield>(executor, *holding.taken.listening, std::move(on_lost), options);
  }
  return std::make_unique<PortShield>(executor, holding.taken.port(), std::move(on_lost), options);
}

// --liveness shows the outcome of its last check in the holder record's metadata: the description
// must leave room for that entry.
void require_room_for_liveness(const ServicePortTable& table, const std::string& service,
                               const ServiceDescription& description) {
  auto described = with_defaults(description, table.description(service));
  if (described.metadata.count(liveness_metadata_key) != 0) {
    throw UsageError(fmt::format(
        "the metadata key '{}' is where --liveness shows the outcome of its last check: give your entry another key",
        liveness_metadata_key));
  }
  described.metadata[liveness_metadata_key] = std::string(ServiceDescription::max_metadata_value_length, 'x');
  auto problem = description_problem(described);
  if (!problem.empty()) {
    throw UsageError(fmt::format(
        "--liveness shows the outcome of its last check in the metadata entry '{}' (up to {} bytes), and the "
        "description of '{}' has no room for it: {}",
        liveness_metadata_key, ServiceDescription::max_metadata_value_length, service, problem));
  }
}

// A record that cannot be rewritten (a full lock directory) costs only the registry's view of the checks.
std::function<void(const std::string&)> liveness_recorder(PortLease& lease) {
  return [&lease](const std::string& outcome) {
    try {
      lease.set_metadata(liveness_metadata_key, outcome);
    } catch (const std::exception& error) {
      std::cerr << fmt::format("portpool: cannot record the liveness check '{}': {}\n", outcome,
                               printable_lines(error.what()));
    }
  };
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
                    "pass the port's socket to CMD as descriptor 3 (LISTEN_FDS=1, LISTEN_PID): listening for a tcp "
                    "service, bound for udp; for both, the TCP socket as 3 and the UDP socket as 4 (LISTEN_FDS=2, "
                    "LISTEN_FDNAMES=tcp:udp)");
  command
      ->add_option("--adopt", arguments.adopt,
                   "hold the port's listening socket and give it to CMD's binds of these fixed port numbers (any "
                   "address, IPv4 or IPv6), for programs that cannot be told their port; all map to the one port "
                   "taken")
      ->type_name("PORT[,PORT...]");
  command
      ->add_option(
          "--adopt-mode", arguments.adopt_mode,
          "how --adopt works: preload (an LD_PRELOAD library, dynamically linked programs), seccomp (a "
          "filter, static and Go ones too), auto (default: seccomp for a static or Go executable, else preload)")
      ->check(CLI::IsMember({"preload", "seccomp", "auto"}));
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
                   "how long a reloaded copy may take to be ready, and with --forking --pid-file how long the pid "
                   "file may take to name the main process once CMD's start-up ended (default 30s)")
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
  command->add_flag("--forking", arguments.forking,
                    "CMD daemonizes (systemd's Type=forking): its exit with status 0 ends the start-up, and the "
                    "service is what it leaves running, followed until its last process (or the --pid-file's) ends");
  command
      ->add_option("--pid-file", arguments.pid_file,
                   "with --forking: the file the daemon writes its main pid to; that process's end ends the service, "
                   "and signals go to it")
      ->type_name("PATH");
  command
      ->add_option("--liveness", arguments.liveness,
                   "check that CMD answers on the port, every --liveness-interval: http:PATH (a GET of PATH answered "
                   "2xx or 3xx) or tcp (a connection); after --liveness-failures failed checks in a row CMD is "
                   "restarted, whatever --restart says")
      ->type_name("http:PATH|tcp");
  command
      ->add_option("--liveness-interval", arguments.liveness_interval,
                   "time between two liveness checks, which is also how long a check may take (default 10s)")
      ->type_name("DURATION");
  command
      ->add_option("--liveness-start-period", arguments.liveness_start_period,
                   "the failed checks of a new copy of CMD count only once a check succeeded or this has passed "
                   "since it started (default 30s)")
      ->type_name("DURATION");
  command
      ->add_option("--liveness-failures", arguments.liveness_failures,
                   "how many failed liveness checks in a row restart CMD (default 3)")
      ->type_name("N");
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
  auto pid_file = checked_pid_file(arguments);
  copy_settings.notify_expected = arguments.ready == "notify" || arguments.forking;  // the keeper says READY=1
  copy_settings.probe_connections = arguments.ready == "accept";
  const bool passes_socket = arguments.socket || arguments.adopt;
  if (copy_settings.probe_connections && passes_socket) {
    throw UsageError(fmt::format(
        "--ready accept cannot tell whether CMD accepts on a socket that portpool listens on itself (the kernel "
        "accepts connections into its queue first): with {}, use --ready notify",
        arguments.socket ? "--socket" : "--adopt"));
  }
  auto liveness = liveness_settings(arguments.liveness, arguments.liveness_interval, arguments.liveness_start_period,
                                    arguments.liveness_failures, passes_socket);
  copy_settings.reload_on_hangup = arguments.ready == "notify" && passes_socket;
  copy_settings.ready_timeout = parse_duration(arguments.ready_timeout, "--ready-timeout");
  auto restart = restart_policy(arguments.restart, parse_duration(arguments.restart_delay, "--restart-delay"),
                                arguments.max_restarts);
  Supervisor supervisor(kill_grace);
  auto table = load_port_table(arguments.common);
  require_service(table, arguments.service);
  auto instance = chosen_instance(arguments.instance, table);
  auto program = resolve_program(arguments.command.front());
  auto adoption = checked_adoption(arguments, program);
  auto templates = parse_templates(arguments.templates);

  auto options = library_options(arguments.common);
  options.description = description_from(arguments.description);
  options.transport = transport_from(arguments.description, table, arguments.service);
  if (copy_settings.probe_connections && *options.transport == Transport::udp) {
    throw UsageError(fmt::format(
        "--ready accept waits for a TCP connection to the port to succeed, and '{}' is a udp service, which accepts "
        "none: use --ready notify (CMD sends READY=1), or leave --ready out",
        arguments.service));
  }
  require_tcp_for_adoption(adoption, *options.transport, arguments.service);
  if (liveness) {
    require_room_for_liveness(table, arguments.service, options.description);
  }
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
  report_taken_port(arguments, holding, adoption);
  if (!templates.empty()) {
    copy_settings.before_start = [&templates, values = template_values(holding.taken.port())] {
      render_templates(templates, values);
    };
  }
  auto request = launch_request(arguments, program, holding, adoption, kill_grace);
  request.pid_file = pid_file;
  request.pid_file_timeout = copy_settings.ready_timeout;
  ServiceCopies copies(supervisor, holding.taken.port(), std::move(request), copy_settings);
  auto on_port_lost = lost_port_handler(arguments, supervisor, kill_grace, port_lost);
  on_claims_lost = [&on_port_lost, &holding, &arguments](const std::string& message) {
    on_port_lost(holding.taken.port().port(), arguments.service, "its fleet claim: " + message);
  };
  bool unresponsive = false;
  std::optional<LivenessMonitor> monitor;
  if (liveness) {
    monitor.emplace(
        supervisor.context(), holding.taken.port().port(), *liveness, liveness_recorder(holding.taken.port()),
        [&supervisor, &unresponsive, &port_lost, kill_grace](const std::string& reason) {
          if (supervisor.stop_requested() || port_lost) {
            return;  // CMD is being stopped already, and is not restarted
          }
          std::cerr << fmt::format(
              "portpool: {}; stopping CMD (SIGTERM, and SIGKILL to its whole tree after --kill-grace)\n", reason);
          unresponsive = true;
          supervisor.end_child_within(kill_grace);
        });
  }
  auto launched = copies.start();
  if (monitor) {
    monitor->watch();
  }
  auto watch = shield(holding, supervisor, on_port_lost);
  for (int restarts = 0;; ++restarts) {
    int status = supervisor.supervise(launched);
    supervisor.end_retired();
    if (monitor) {
      monitor->stop();
    }
    if (port_lost) {
      return exit_after_loss(status);
    }
    if (supervisor.stop_requested()) {
      return status;
    }
    if (std::exchange(unresponsive, false)) {
      if (!restart.within_limit(restarts)) {
        std::cerr << fmt::format("portpool: CMD is not restarted: --max-restarts {} reached\n", restart.limit_text());
        return status;
      }
      std::cerr << fmt::format(
          "portpool: CMD stopped answering and ended with status {}; restarting it ({} of {}), port {} stays held\n",
          status, restarts + 1, restart.limit_text(), holding.taken.port().port());
    } else if (restart.wants(status, restarts)) {
      std::cerr << fmt::format("portpool: {} with status {}; restarting {} ({} of {}), port {} stays held\n",
                               arguments.forking ? "the service (what CMD's start-up left) ended" : "CMD exited",
                               status, arguments.forking ? "CMD" : "it", restarts + 1, restart.limit_text(),
                               holding.taken.port().port());
    } else {
      return status;
    }
    if (!supervisor.pause(restart.delay)) {
      return status;
    }
    if (port_lost) {
      return exit_after_loss(status);
    }
    launched = copies.start();
    if (monitor) {
      monitor->watch();
    }
  }
}

}  // namespace portpool::cli
