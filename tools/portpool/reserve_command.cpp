#include "reserve_command.hpp"

#include "columns.hpp"
#include "ephemeral_ports.hpp"
#include "exit_codes.hpp"

#include <portpool/service_port_table.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <system_error>
#include <vector>

namespace portpool::cli {
namespace {

constexpr const char* reserved_ports_file = "/proc/sys/net/ipv4/ip_local_reserved_ports";
constexpr const char* persist_file_name = "90-portpool.conf";

/// One service's ports inside the ephemeral range, over every instance of the table.
struct ExposedPool {
  std::string service;
  std::vector<unsigned> ports;
  bool reserved = false;
};

std::vector<unsigned> every_instance_ports(const ServicePortTable& table, const std::string& service) {
  std::set<unsigned> ports;
  for (unsigned instance = 1; instance <= table.layout().max; ++instance) {
    for (unsigned port : table.pool_for(service, instance)) {
      ports.insert(port);
    }
  }
  return {ports.begin(), ports.end()};
}

std::vector<ExposedPool> exposed_pools(const ServicePortTable& table, const PortRange& range,
                                       const std::set<unsigned>& reserved) {
  std::vector<ExposedPool> pools;
  for (const auto& service : table.services()) {
    ExposedPool pool{service, {}, true};
    for (unsigned port : every_instance_ports(table, service)) {
      if (range.contains(port)) {
        pool.ports.push_back(port);
        pool.reserved = pool.reserved && reserved.count(port) != 0;
      }
    }
    if (!pool.ports.empty()) {
      pools.push_back(std::move(pool));
    }
  }
  return pools;
}

std::set<unsigned> merged_reservation(const std::vector<ExposedPool>& pools, std::set<unsigned> reserved) {
  for (const auto& pool : pools) {
    reserved.insert(pool.ports.begin(), pool.ports.end());
  }
  return reserved;
}

[[noreturn]] void refuse_write(const std::string& what, int error) {
  if (error == EACCES || error == EPERM || error == EROFS) {
    throw CommandError(fmt::format("cannot write {}: {}; reserving ports needs root: run the same portpool reserve "
                                   "command with sudo (nothing was changed)",
                                   what, std::generic_category().message(error)),
                       exit_code::not_permitted);
  }
  throw std::system_error(error, std::generic_category(), fmt::format("cannot write {}", what));
}

// Writing the whole merged list keeps every entry that was there: the kernel replaces the list.
void apply_reservation(const std::set<unsigned>& ports) {
  std::FILE* file = std::fopen(reserved_ports_file, "we");
  if (file == nullptr) {
    refuse_write(reserved_ports_file, errno);
  }
  auto text = port_list_setting(ports) + '\n';
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  const int write_error = errno;
  if (std::fclose(file) != 0 || !written) {
    refuse_write(reserved_ports_file, written ? errno : write_error);
  }
}

std::filesystem::path persist_reservation(const std::set<unsigned>& ports, const std::filesystem::path& directory) {
  auto path = directory / persist_file_name;
  auto temporary = directory / (std::string(persist_file_name) + ".new");
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << "# Written by 'portpool reserve --persist': keeps the kernel from giving the ports of portpool's pools\n"
            "# to outgoing connections. It lists the ports reserved when it was written, too.\n"
         << "net.ipv4.ip_local_reserved_ports = " << port_list_setting(ports) << '\n';
    if (!file.flush()) {
      refuse_write(temporary.string(), errno);
    }
  }
  std::filesystem::permissions(temporary, std::filesystem::perms(0644));
  std::filesystem::rename(temporary, path);
  return path;
}

std::string reserved_text(bool reserved) { return reserved ? "yes" : "no"; }

void print_text(const PortRange& range, const std::vector<ExposedPool>& pools, const std::set<unsigned>& merged,
                bool applied) {
  if (pools.empty()) {
    std::cout << fmt::format("no pool port is inside the ephemeral port range {}-{}: nothing to reserve\n", range.first,
                             range.last);
    return;
  }
  std::cout << fmt::format("pool ports inside the ephemeral port range {}-{}:\n", range.first, range.last);
  std::vector<std::vector<std::string>> rows{{"SERVICE", "PORTS", "RESERVED"}};
  for (const auto& pool : pools) {
    rows.push_back({pool.service, describe_ports(pool.ports), reserved_text(pool.reserved)});
  }
  std::cout << format_columns(rows);
  const bool all_reserved = std::all_of(pools.begin(), pools.end(), [](const auto& pool) { return pool.reserved; });
  if (!all_reserved && !applied) {
    std::cout << fmt::format(
        "reserve them (as root): portpool reserve --apply, or sysctl -w net.ipv4.ip_local_reserved_ports={}\n",
        port_list_setting(merged));
  }
}

std::string as_json(const PortRange& range, const std::vector<ExposedPool>& pools, const std::set<unsigned>& merged,
                    const std::optional<std::filesystem::path>& persisted) {
  auto services = nlohmann::ordered_json::array();
  for (const auto& pool : pools) {
    services.push_back({{"name", pool.service}, {"ports", pool.ports}, {"reserved", pool.reserved}});
  }
  return nlohmann::ordered_json{{"ephemeral_range", {range.first, range.last}},
                                {"services", services},
                                {"reserved_ports", port_list_setting(merged)},
                                {"persisted", persisted ? nlohmann::ordered_json(persisted->string()) : nullptr}}
      .dump(2);
}

}  // namespace

CLI::App* add_reserve_command(CLI::App& app, ReserveArguments& arguments) {
  auto* command = app.add_subcommand("reserve",
                                     "List the pool ports inside the kernel's ephemeral port range and, as root, "
                                     "reserve them (net.ipv4.ip_local_reserved_ports)");
  command->add_flag("--apply", arguments.apply,
                    "add them to net.ipv4.ip_local_reserved_ports (root), keeping the ports reserved already");
  command->add_flag("--persist", arguments.persist,
                    "write the reservation to a sysctl.d file, so that it survives a reboot (root)");
  command->add_option("--sysctl-dir", arguments.sysctl_dir, "where --persist writes 90-portpool.conf")
      ->type_name("DIR")
      ->default_str("/etc/sysctl.d");
  add_common_options(*command, arguments.common);
  return command;
}

int run_reserve_command(const ReserveArguments& arguments) {
  auto table = load_port_table(arguments.common);
  auto range = ephemeral_range();
  if (!range) {
    throw std::runtime_error(
        "cannot read the ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range): is /proc mounted?");
  }
  auto reserved = reserved_ports();
  auto pools = exposed_pools(table, *range, reserved);
  auto merged = merged_reservation(pools, reserved);
  if (arguments.apply && merged != reserved) {
    apply_reservation(merged);
    pools = exposed_pools(table, *range, reserved_ports());
  }
  std::optional<std::filesystem::path> persisted;
  if (arguments.persist) {
    persisted = persist_reservation(merged, arguments.sysctl_dir);
  }
  if (arguments.common.json) {
    std::cout << as_json(*range, pools, merged, persisted) << '\n';
    return exit_code::success;
  }
  print_text(*range, pools, merged, arguments.apply);
  if (persisted) {
    std::cout << fmt::format("wrote {}\n", persisted->string());
  }
  return exit_code::success;
}

}  // namespace portpool::cli
