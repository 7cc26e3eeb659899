#pragma once

// The kernel hands out ports of its ephemeral range (net.ipv4.ip_local_port_range) to outgoing
// connections, so a pool inside that range can find its ports taken by any client on the machine,
// unless they are listed in net.ipv4.ip_local_reserved_ports.

#include <portpool/service_port_table.hpp>

#include <string>
#include <vector>

namespace portpool::cli {

/// One warning line per service of `instance` whose pool has ports inside the ephemeral range that
/// are not reserved, then a line with the sysctl command that reserves them (keeping the ports
/// already reserved). Empty when there is nothing to warn about or /proc cannot be read.
std::vector<std::string> ephemeral_range_warnings(const ServicePortTable& table, unsigned instance);

}  // namespace portpool::cli
