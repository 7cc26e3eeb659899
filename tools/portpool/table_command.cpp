#include "table_command.hpp"

#include "columns.hpp"
#include "ephemeral_ports.hpp"
#include "machine_output.hpp"

#include <example_table.hpp>

#include <portpool/printable_text.hpp>
#include <portpool/service_port_table.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace portpool::cli {
namespace {

std::vector<unsigned> pool_ports(const ServicePortTable& table, const std::string& service, unsigned instance) {
  auto pool = table.pool_for(service, instance);
  return {pool.begin(), pool.end()};
}

// The pool's ports that browsers and fetch() refuse, and whether the pool still hands them out.
std::string fetch_blocked_text(const ServicePortTable& table, const std::string& service, unsigned instance) {
  auto blocked = table.fetch_blocked_ports(service, instance);
  if (blocked.empty()) {
    return "-";
  }
  return fmt::format("{} ({})", describe_ports(blocked),
                     table.allows_fetch_blocked_ports(service) ? "allowed" : "skipped");
}

// The config file the table was loaded from, or the built-in example table.
std::string source_text(const std::optional<std::filesystem::path>& config_file) {
  if (config_file) {
    return fmt::format("port table: {}\n", printable_text(config_file->string()));
  }
  return fmt::format("port table: {} (no config file found; see --config in 'portpool table --help')\n",
                     example_table::name);
}

std::string table_as_json(const ServicePortTable& table, unsigned instance,
                          const std::optional<std::filesystem::path>& config_file) {
  auto range = ephemeral_range();
  auto reserved = reserved_ports();
  auto services = nlohmann::ordered_json::array();
  for (const auto& service : table.services()) {
    auto safe = pool_reserved(pool_ports(table, service, instance), range, reserved);
    services.push_back({{"name", service},
                        {"ports", table.pool_for(service, instance)},
                        {"shared", table.is_shared(service)},
                        {"transport", to_string(table.transport(service))},
                        {"reserved", safe ? nlohmann::ordered_json(*safe) : nullptr},
                        {"fetch_blocked_ports", table.fetch_blocked_ports(service, instance)},
                        {"allow_fetch_blocked_ports", table.allows_fetch_blocked_ports(service)}});
  }
  return nlohmann::ordered_json{{format_version_key, format_version},
                                {"instance", instance},
                                {"services", services},
                                {"source", config_file ? nlohmann::ordered_json(config_file->string()) : nullptr}}
      .dump(2);
}

std::string table_as_text(const ServicePortTable& table, unsigned instance) {
  auto range = ephemeral_range();
  auto reserved = reserved_ports();
  std::vector<std::vector<std::string>> rows{{"SERVICE", "PORTS", "POOL", "RESERVED", "FETCH-BLOCKED"}};
  std::vector<Transport> transports;
  for (const auto& service : table.services()) {
    transports.push_back(table.transport(service));
    auto shared = table.is_shared(service);
    rows.push_back({service, describe_ports(table.pool_for(service, instance)),
                    shared ? std::string("shared") : fmt::format("instance {}", instance),
                    reservation_text(pool_ports(table, service, instance), range, reserved),
                    fetch_blocked_text(table, service, instance)});
  }
  return format_columns(with_transport_column(std::move(rows), 2, transports));
}

}  // namespace

CLI::App* add_table_command(CLI::App& app, TableArguments& arguments) {
  auto* command = app.add_subcommand("table", "Show the services and their port pools for one instance");
  command->add_option("--instance", arguments.instance, "instance number (default 1)")->type_name("N");
  add_common_options(*command, arguments.common);
  return command;
}

int run_table_command(const TableArguments& arguments) {
  auto config_file = find_config_file(arguments.common);
  auto table = load_port_table(config_file);
  require_instance(table, arguments.instance);
  for (const auto& warning : ephemeral_range_warnings(table, arguments.instance)) {
    std::cerr << printable_lines(warning) << '\n';
  }
  std::cout << (arguments.common.json ? table_as_json(table, arguments.instance, config_file) + '\n'
                                      : source_text(config_file) + table_as_text(table, arguments.instance));
  return 0;
}

}  // namespace portpool::cli
