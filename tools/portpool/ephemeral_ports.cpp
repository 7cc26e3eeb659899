#include "ephemeral_ports.hpp"

#include <portpool/parse_integer.hpp>
#include <portpool/service_port_table.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>

namespace portpool::cli {
namespace {

std::optional<std::string> read_proc_file(const char* path) {
  std::ifstream file(path);
  if (!file) {
    return std::nullopt;
  }
  return std::string(std::istreambuf_iterator<char>(file), {});
}

}  // namespace

std::optional<PortRange> ephemeral_range() {
  auto text = read_proc_file("/proc/sys/net/ipv4/ip_local_port_range");
  std::istringstream fields(text.value_or(""));
  PortRange range;
  if (!(fields >> range.first >> range.last) || range.last < range.first) {
    return std::nullopt;
  }
  return range;
}

// "8080,9000-9002" (or empty)
std::set<unsigned> reserved_ports() {
  std::set<unsigned> ports;
  std::istringstream items(read_proc_file("/proc/sys/net/ipv4/ip_local_reserved_ports").value_or(""));
  for (std::string item; std::getline(items, item, ',');) {
    item.erase(std::remove_if(item.begin(), item.end(), [](char c) { return c == ' ' || c == '\n'; }), item.end());
    auto dash = item.find('-');
    auto first = parse_integer<unsigned>(item.substr(0, dash));
    auto last = dash == std::string::npos ? first : parse_integer<unsigned>(item.substr(dash + 1));
    if (!first || !last) {
      continue;
    }
    for (auto port = *first; port <= *last; ++port) {
      ports.insert(port);
    }
  }
  return ports;
}

std::string port_list_setting(const std::set<unsigned>& ports) {
  auto list = describe_ports(std::vector<unsigned>(ports.begin(), ports.end()));
  list.erase(std::remove(list.begin(), list.end(), ' '), list.end());
  return list;
}

std::optional<bool> pool_reserved(const std::vector<unsigned>& pool, const std::optional<PortRange>& range,
                                  const std::set<unsigned>& reserved) {
  if (!range) {
    return std::nullopt;
  }
  return std::none_of(pool.begin(), pool.end(),
                      [&](unsigned port) { return range->contains(port) && reserved.count(port) == 0; });
}

std::string reservation_text(const std::vector<unsigned>& pool, const std::optional<PortRange>& range,
                             const std::set<unsigned>& reserved) {
  if (!range) {
    return "unknown";
  }
  if (std::none_of(pool.begin(), pool.end(), [&](unsigned port) { return range->contains(port); })) {
    return "not needed";
  }
  return *pool_reserved(pool, range, reserved) ? "yes" : "no";
}

std::vector<std::string> ephemeral_range_warnings(const ServicePortTable& table, unsigned instance) {
  auto range = ephemeral_range();
  if (!range) {
    return {};
  }
  auto reserved = reserved_ports();
  const bool some_reserved_already = !reserved.empty();
  std::vector<std::string> warnings;
  for (const auto& service : table.services()) {
    std::vector<unsigned> exposed;
    for (unsigned port : table.pool_for(service, instance)) {
      if (port >= range->first && port <= range->last && reserved.count(port) == 0) {
        exposed.push_back(port);
      }
    }
    std::sort(exposed.begin(), exposed.end());
    if (!exposed.empty()) {
      warnings.push_back(fmt::format(
          "portpool: warning: the pool of '{}' has ports {} inside the kernel's ephemeral port range {}-{}, where "
          "outgoing connections can take them",
          service, describe_ports(exposed), range->first, range->last));
      reserved.insert(exposed.begin(), exposed.end());
    }
  }
  if (!warnings.empty()) {
    warnings.push_back(fmt::format(
        "portpool: reserve them (as root{}): portpool reserve --apply, or sysctl -w "
        "net.ipv4.ip_local_reserved_ports={}",
        some_reserved_already ? "; the list keeps the ports reserved now" : "", port_list_setting(reserved)));
  }
  return warnings;
}

}  // namespace portpool::cli
