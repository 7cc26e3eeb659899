#pragma once

// What `run` hands to CMD: the program to execute, its arguments and its environment.

#include <portpool/fencing_token.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace portpool::cli {

/// The file to execute for `name`: `name` itself when it contains a '/', else the first
/// executable file of that name in $PATH.
/// @throws CommandError (127) when there is none, (126) when the file is not executable.
std::string resolve_program(const std::string& name);

/// `arguments` with every "{port}" in all but the first (the command) replaced by `port`.
std::vector<std::string> substitute_port(std::vector<std::string> arguments, std::uint16_t port);

struct ServiceIdentity {
  std::uint16_t port = 0;
  std::string service;
  unsigned instance = 0;
  std::vector<std::string> socket_names;      ///< of the sockets passed from descriptor 3 on; empty: none
  std::optional<FencingToken> fencing_token;  ///< a fleet-wide hold's
};

/// This process's environment for CMD: PORT, PORTPOOL_PORT, PORTPOOL_SERVICE and PORTPOOL_INSTANCE
/// set; for a fleet-wide hold PORTPOOL_FENCING_TOKEN (the claim's etcd revision) and
/// PORTPOOL_FENCING_CLUSTER (the etcd cluster's id); and, for passed sockets, LISTEN_FDS (their
/// number) and LISTEN_FDNAMES (their names joined by ':'), as systemd's socket activation sets them
/// (LISTEN_PID is added in the child, which alone knows its pid). Inherited LISTEN_* and
/// PORTPOOL_*ADOPT* variables are removed: they describe descriptors this process was given, not CMD's.
std::vector<std::string> child_environment(const ServiceIdentity& identity);

}  // namespace portpool::cli
