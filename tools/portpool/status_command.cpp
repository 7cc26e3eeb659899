#include "status_command.hpp"

#include "columns.hpp"
#include "description_options.hpp"
#include "ephemeral_ports.hpp"
#include "exit_codes.hpp"
#include "machine_output.hpp"
#include "resource_limits.hpp"
#include "watch_command.hpp"

#include <portpool/holder_json.hpp>
#include <portpool/lock_dir.hpp>
#include <portpool/printable_text.hpp>
#include <portpool/registry.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>
#include <utility>
#include <vector>

namespace portpool::cli {
namespace {

// An instance lock's record: who holds the number, without the port fields that are not its own.
nlohmann::ordered_json instance_json(const Holder& holder) {
  return {{"instance", holder.instance},
          {"pid", application_pid_of(holder)},
          {"instance_id", holder.instance_id},
          {"since", iso8601_utc(holder.since)}};
}

std::string holders_as_json(const std::vector<Holder>& holders, const std::vector<Holder>& instances) {
  auto range = ephemeral_range();
  auto reserved = reserved_ports();
  auto list = nlohmann::ordered_json::array();
  for (const auto& holder : holders) {
    auto safe = pool_reserved({holder.port}, range, reserved);
    auto entry = holder_json(holder);
    entry["reserved"] = safe ? nlohmann::ordered_json(*safe) : nullptr;
    list.push_back(std::move(entry));
  }
  auto instance_list = nlohmann::ordered_json::array();
  for (const auto& instance : instances) {
    instance_list.push_back(instance_json(instance));
  }
  return nlohmann::ordered_json{{format_version_key, format_version}, {"holders", list}, {"instances", instance_list}}
      .dump(2);
}

std::string ports_as_text(const std::vector<Holder>& holders, const std::filesystem::path& lock_dir) {
  if (holders.empty()) {
    return fmt::format("no port is held (lock directory {})\n", printable_text(lock_dir.string()));
  }
  auto range = ephemeral_range();
  auto reserved = reserved_ports();
  std::vector<std::vector<std::string>> rows{
      {"PORT", "SERVICE", "PID", "INSTANCE", "SINCE", "READINESS", "SERVES", "RESERVED"}};
  std::vector<Transport> transports;
  for (const auto& holder : holders) {
    rows.push_back({std::to_string(holder.port), service_text(holder), std::to_string(application_pid_of(holder)),
                    std::to_string(holder.instance), local_time_text(holder.since), to_string(holder.readiness),
                    description_summary(holder.description), reservation_text({holder.port}, range, reserved)});
    transports.push_back(holder.transport);
  }
  return format_columns(with_transport_column(std::move(rows), 1, transports));
}

// Only when some instance number is held: most users never take one.
std::string instances_as_text(const std::vector<Holder>& instances) {
  if (instances.empty()) {
    return {};
  }
  std::vector<std::vector<std::string>> rows{{"INSTANCE", "PID", "SINCE", "ID"}};
  for (const auto& instance : instances) {
    rows.push_back({std::to_string(instance.instance), std::to_string(application_pid_of(instance)),
                    local_time_text(instance.since), instance.instance_id});
  }
  return "\n" + format_columns(rows);
}

}  // namespace

CLI::App* add_status_command(CLI::App& app, StatusArguments& arguments) {
  auto* command = app.add_subcommand("status", "Show who holds which port now");
  add_common_options(*command, arguments.common);
  add_fleet_status_options(*command, arguments.fleet);
  return command;
}

int run_status_command(const StatusArguments& arguments) {
  if (arguments.fleet.fleet) {
    return run_fleet_status(arguments.fleet, arguments.common.json);
  }
  if (!arguments.fleet.etcd.endpoints.empty()) {
    throw UsageError("--etcd is for the fleet view: add --fleet ('portpool status --fleet --etcd URL')");
  }
  require_free_descriptors(descriptors_needed);
  if (names_config_file(arguments.common)) {
    load_port_table(arguments.common);  // a wrong named config is reported even though every holder is shown
  }
  auto options = library_options(arguments.common);
  if (arguments.fleet.watch) {
    watch_registry(options, arguments.common.json);
  }
  auto holders = Registry::holders(options);
  auto instances = Registry::instance_holders(options);
  std::cout << (arguments.common.json
                    ? holders_as_json(holders, instances) + '\n'
                    : ports_as_text(holders, resolve_lock_dir(options.lock_dir)) + instances_as_text(instances));
  return 0;
}

}  // namespace portpool::cli
