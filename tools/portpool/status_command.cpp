#include "status_command.hpp"

#include "columns.hpp"
#include "description_options.hpp"
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
  auto list = nlohmann::ordered_json::array();
  for (const auto& holder : holders) {
    list.push_back(holder_json(holder));
  }
  return nlohmann::ordered_json{{"holders", list}}.dump(2);
}

std::string holders_as_text(const std::vector<Holder>& holders, const std::filesystem::path& lock_dir) {
  if (holders.empty()) {
    return fmt::format("no port is held (lock directory {})\n", lock_dir.string());
  }
  std::vector<std::vector<std::string>> rows{{"PORT", "SERVICE", "PID", "INSTANCE", "SINCE", "SERVES"}};
  for (const auto& holder : holders) {
    rows.push_back({std::to_string(holder.port), holder.service, std::to_string(holder.pid),
                    std::to_string(holder.instance), local_time_text(holder.since),
                    description_summary(holder.description)});
  }
  return format_columns(rows);
}

}  // namespace

CLI::App* add_status_command(CLI::App& app, StatusArguments& arguments) {
  auto* command = app.add_subcommand("status", "Show who holds which port now");
  add_common_options(*command, arguments.common);
  command->add_flag("--watch", arguments.watch,
                    "then print every change (acquired, released, lost, changed) as it happens, one line each, "
                    "until interrupted");
  return command;
}

int run_status_command(const StatusArguments& arguments) {
  if (!arguments.common.config_file.empty()) {
    load_port_table(arguments.common);  // a wrong --config is reported even though every holder is shown
  }
  auto options = library_options(arguments.common);
  if (arguments.watch) {
    watch_registry(options, arguments.common.json);
  }
  auto holders = Registry::holders(options);
  std::cout << (arguments.common.json ? holders_as_json(holders) + '\n'
                                      : holders_as_text(holders, resolve_lock_dir(options.lock_dir)));
  return 0;
}

}  // namespace portpool::cli
