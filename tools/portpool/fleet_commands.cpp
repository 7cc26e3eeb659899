// `portpool publish`, `portpool fleet-init` and `portpool status --fleet`: the fleet commands, over
// portpool::fleet.

#include "columns.hpp"
#include "duration.hpp"
#include "exit_codes.hpp"
#include "fleet_options.hpp"
#include "machine_output.hpp"

#include <fleet_listing_json.hpp>

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/fleet_lock_policy.hpp>
#include <portpool/fleet/fleet_view.hpp>
#include <portpool/fleet/host_identity.hpp>
#include <portpool/fleet/publisher.hpp>
#include <portpool/printable_text.hpp>

#include <signal.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace portpool::cli {
namespace {

fleet::EtcdOptions etcd_options(const EtcdArguments& arguments) {
  fleet::quiet_transport_log();  // our messages say what failed, with the endpoint
  if (arguments.endpoints.empty()) {
    throw UsageError("no etcd endpoint: give --etcd URL[,URL...] (e.g. --etcd http://127.0.0.1:2379)");
  }
  fleet::require_valid_prefix(arguments.prefix);
  return fleet_command_line::etcd_options_of(arguments);
}

// etcd counts lease TTLs in whole seconds, so a fraction is rounded up.
std::chrono::seconds parse_ttl(const std::string& text) {
  auto ttl = std::chrono::ceil<std::chrono::seconds>(parse_duration(text, "--ttl"));
  if (ttl.count() < 1) {
    throw UsageError(fmt::format("--ttl {} is too short: etcd leases last at least 1 s", text));
  }
  return ttl;
}

// Maps the fleet layer's errors to the command's exit codes.
template <class Action>
int mapping_etcd_errors(Action action) {
  try {
    return action();
  } catch (const fleet::EtcdUnavailable& error) {
    throw CommandError(error.what(), exit_code::etcd_unavailable);
  } catch (const fleet::EtcdError& error) {
    throw CommandError(error.what(), exit_code::etcd_refused);
  }
}

std::string snapshot_text(const fleet::FleetSnapshot& snapshot, const EtcdArguments& etcd) {
  if (snapshot.holders.empty()) {
    return fmt::format("no port is held in the fleet (etcd {}, prefix {})\n",
                       printable_text(fmt::format("{}", fmt::join(etcd.endpoints, ","))), printable_text(etcd.prefix));
  }
  std::vector<std::vector<std::string>> rows{{"HOST", "PORT", "SERVICE", "PID", "INSTANCE", "ADDRESS", "SINCE"}};
  std::vector<Transport> transports;
  for (const auto& holder : snapshot.holders) {
    rows.push_back({holder.host, std::to_string(holder.port), holder.service, std::to_string(holder.pid),
                    std::to_string(holder.instance), holder.address, local_time_text(holder.since)});
    transports.push_back(holder.transport);
  }
  return format_columns(with_transport_column(std::move(rows), 2, transports));
}

// The listing is written as text (it can hold thousands of holders): the version goes in front.
std::string versioned_listing(const std::string& listing) {
  return fmt::format(R"({{"{}":{},)", format_version_key, format_version) + listing.substr(1);
}

void print_change(const fleet::FleetChange& change, bool json) {
  if (json) {
    nlohmann::ordered_json line{{format_version_key, format_version},
                                {"event", change.holder ? "put" : "delete"},
                                {"revision", change.revision},
                                {"host", change.host},
                                {"port", change.port}};
    if (change.holder) {
      line["holder"] = fleet_command_line::fleet_holder_json(*change.holder);
    }
    std::cout << line.dump() << std::endl;  // one line per change, flushed for whoever follows it
    return;
  }
  if (change.holder) {
    std::cout << printable_lines(fmt::format("+ {} {} {} pid {} instance {} at {}", change.host,
                                             port_text(change.port, change.holder->transport), change.holder->service,
                                             change.holder->pid, change.holder->instance, change.holder->address))
              << std::endl;
  } else {
    std::cout << printable_lines(fmt::format("- {} {}", change.host, change.port)) << std::endl;
  }
}

int follow_fleet(fleet::EtcdClient& etcd, const FleetStatusArguments& arguments, bool json) {
  fleet::FleetFollower::Callbacks callbacks;
  callbacks.on_snapshot = [&](const fleet::FleetSnapshot& snapshot) {
    if (json) {
      auto line = versioned(fleet_command_line::fleet_snapshot_json(snapshot));
      line["event"] = "snapshot";
      std::cout << line.dump() << std::endl;
    } else {
      std::cout << snapshot_text(snapshot, arguments.etcd) << std::flush;
    }
  };
  callbacks.on_change = [json](const fleet::FleetChange& change) { print_change(change, json); };
  callbacks.on_problem = [](const std::string& problem) {
    std::cerr << "portpool: " << printable_lines(problem) << std::endl;
  };
  fleet::FleetFollower follower(etcd, arguments.etcd.prefix, callbacks);
  follower.run();
  return exit_code::success;
}

fleet::Publisher* running_publisher = nullptr;

extern "C" void stop_publisher(int /*signal*/) {
  if (running_publisher != nullptr) {
    running_publisher->stop();  // async-signal-safe: one write(2)
  }
}

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = stop_publisher;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    ::sigaction(signal, &action, nullptr);
  }
}

}  // namespace

int run_publish_command(const PublishArguments& arguments) {
  fleet::PublisherOptions options;
  options.etcd = etcd_options(arguments.etcd);
  options.host_id = arguments.host_id;
  options.prefix = arguments.etcd.prefix;
  options.ttl = parse_ttl(arguments.ttl);
  options.registry = library_options(arguments.common);
  options.address_host = arguments.address;
  options.on_log = [](const std::string& line) {
    std::cerr << "portpool publish: " << printable_lines(line) << std::endl;
  };
  fleet::Publisher publisher(options);
  running_publisher = &publisher;
  install_stop_handlers();
  publisher.run();
  running_publisher = nullptr;
  return exit_code::success;
}

int run_fleet_init_command(const FleetInitArguments& arguments) {
  auto options = etcd_options(arguments.etcd);
  auto host_id = arguments.host_id.empty() ? fleet::machine_host_id() : arguments.host_id;
  fleet::EtcdClient etcd(options);
  return mapping_etcd_errors([&] {
    auto marker = printable_text(fleet::epoch_key(arguments.etcd.prefix));
    if (fleet::initialize_fleet(etcd, arguments.etcd.prefix, host_id)) {
      std::cout << fmt::format("created the fleet's epoch marker {}: claims under {} count at once\n", marker,
                               printable_text(arguments.etcd.prefix));
    } else {
      std::cout << fmt::format("the fleet's epoch marker {} exists already: nothing to do\n", marker);
    }
    return exit_code::success;
  });
}

int run_fleet_status(const FleetStatusArguments& arguments, bool json) {
  fleet::EtcdClient etcd(etcd_options(arguments.etcd));
  return mapping_etcd_errors([&] {
    if (arguments.watch) {
      return follow_fleet(etcd, arguments, json);
    }
    auto snapshot = fleet::read_fleet(etcd, arguments.etcd.prefix);
    for (const auto& rejected : snapshot.rejected) {
      std::cerr << "portpool: ignored: " << printable_lines(rejected) << '\n';
    }
    std::cout << (json ? versioned_listing(fleet_command_line::fleet_snapshot_json_text(snapshot))
                       : snapshot_text(snapshot, arguments.etcd));
    return exit_code::success;
  });
}

}  // namespace portpool::cli
