#include "status_command.hpp"

#include "columns.hpp"
#include "description_options.hpp"
#include "ephemeral_ports.hpp"
#include "exit_codes.hpp"
#include "resource_limits.hpp"
#include "watch_command.hpp"

#include <portpool/holder_json.hpp>
#include <portpool/lock_dir.hpp>
#include <portpool/registry.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace portpool::cli {
namespace {

std::string holders_as_json(const std::vector<Holder>& holders) {
  auto range = ephemeral_range();
  auto reserved = reserved_ports();
  auto list = nlohmann::ordered_json::array();
  for (const auto& holder : holders) {
    auto safe = pool_reserved({holder.port}, range, reserved);
    auto entry = holder_json(holder);
    entry["reserved"] = safe ? nlohmann::ordered_json(*safe) : nullptr;
    list.push_back(std::move(entry));
  }
  return nlohmann::ordered_json{{"holders", list}}.dump(2);
}

std::string holders_as_text(const std::vector<Holder>& holders, const std::filesystem::path& lock_dir) {
  if (holders.empty()) {
    return fmt::format("no port is held (lock directory {})\n", lock_dir.string());
  }
  auto range = ephemeral_range();
  auto reserved = reserved_ports();
  std::vector<std::vector<std::string>> rows{
      {"PORT", "SERVICE", "PID", "INSTANCE", "SINCE", "READINESS", "SERVES", "RESERVED"}};
  for (const auto& holder : holders) {
    rows.push_back({std::to_string(holder.port), holder.service, std::to_string(holder.pid),
                    std::to_string(holder.instance), local_time_text(holder.since), to_string(holder.readiness),
                    description_summary(holder.description), reservation_text({holder.port}, range, reserved)});
  }
  return format_columns(rows);
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
  if (!arguments.common.config_file.empty()) {
    load_port_table(arguments.common);  // a wrong --config is reported even though every holder is shown
  }
  auto options = library_options(arguments.common);
  if (arguments.fleet.watch) {
    watch_registry(options, arguments.common.json);
  }
  auto holders = Registry::holders(options);
  std::cout << (arguments.common.json ? holders_as_json(holders) + '\n'
                                      : holders_as_text(holders, resolve_lock_dir(options.lock_dir)));
  return 0;
}

}  // namespace portpool::cli
