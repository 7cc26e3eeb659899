#pragma once

// The kernel hands out ports of its ephemeral range (net.ipv4.ip_local_port_range) to outgoing
// connections, so a pool inside that range can find its ports taken by any client on the machine,
// unless they are listed in net.ipv4.ip_local_reserved_ports.

#include <portpool/service_port_table.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace portpool::cli {

struct PortRange {
  unsigned first = 0;
  unsigned last = 0;

  bool contains(unsigned port) const noexcept { return port >= first && port <= last; }
};

/// net.ipv4.ip_local_port_range of this network namespace, or nullopt when /proc cannot be read.
std::optional<PortRange> ephemeral_range();

/// net.ipv4.ip_local_reserved_ports of this network namespace (empty when /proc cannot be read).
std::set<unsigned> reserved_ports();

/// `ports` as the kernel writes a port list: "8080,9000-9002".
std::string port_list_setting(const std::set<unsigned>& ports);

/// How `pool` stands against the ephemeral range, for tables: "yes" (its ports inside the range
/// are reserved), "no", "not needed" (none is inside), "unknown" (the range cannot be read).
std::string reservation_text(const std::vector<unsigned>& pool, const std::optional<PortRange>& range,
                             const std::set<unsigned>& reserved);

/// Whether `pool` is safe from the ephemeral range: true when none of its ports is inside `range`
/// unreserved; nullopt when the range is unknown.
std::optional<bool> pool_reserved(const std::vector<unsigned>& pool, const std::optional<PortRange>& range,
                                  const std::set<unsigned>& reserved);

/// One warning line per service of `instance` whose pool has ports inside the ephemeral range that
/// are not reserved, then a line with the sysctl command that reserves them (keeping the ports
/// already reserved). Empty when there is nothing to warn about or /proc cannot be read.
std::vector<std::string> ephemeral_range_warnings(const ServicePortTable& table, unsigned instance);

}  // namespace portpool::cli
