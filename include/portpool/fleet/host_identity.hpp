#pragma once

/// @file
/// Who this host is, for the fleet registry.

#include <string>

namespace portpool::fleet {

/// The host id by default: the contents of /etc/machine-id.
/// @throws ConfigError when it cannot be read or is not a valid host id (then give one).
std::string machine_host_id();

/// This boot's id (/proc/sys/kernel/random/boot_id), empty when unknown: a holder record of an
/// earlier boot of the same host can be told from a live one.
std::string boot_id();

/// The host name other hosts reach this one by (gethostname).
std::string host_name();

}  // namespace portpool::fleet
