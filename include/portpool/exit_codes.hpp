#pragma once

/// @file
/// The exit codes of the portpool command and of the example servers (the sysexits.h values, and
/// the shell's 126 and 127 for a command that cannot be run), and the code for each exception
/// portpool throws: for wrappers and launchers that should exit as the command does.

#include <portpool/error.hpp>

#include <exception>

namespace portpool {

namespace exit_code {
inline constexpr int success = 0;
inline constexpr int stopped = 0;            ///< a server stopped by SIGINT or SIGTERM
inline constexpr int usage = 64;             ///< EX_USAGE: a wrong command line
inline constexpr int unavailable = 69;       ///< EX_UNAVAILABLE
inline constexpr int etcd_unavailable = 69;  ///< etcd cannot be reached (fleet pools, `status --fleet`)
inline constexpr int port_lost = 69;         ///< a server's shield saw its port lost while serving
inline constexpr int system_failure = 71;    ///< EX_OSERR: out of descriptors or memory, a failing call
inline constexpr int pool_exhausted = 75;    ///< EX_TEMPFAIL: no free port in the pool, or no free instance
inline constexpr int etcd_refused = 76;      ///< EX_PROTOCOL: etcd answered with an error
inline constexpr int unsafe_lock_dir = 77;   ///< EX_NOPERM: the lock directory is unsafe or unusable
inline constexpr int not_permitted = 77;     ///< EX_NOPERM: a change only root may make
inline constexpr int bad_config = 78;        ///< EX_CONFIG: invalid port table, unknown service, bad instance
inline constexpr int command_not_executable = 126;
inline constexpr int command_not_found = 127;
}  // namespace exit_code

/// The exit code for `error` as the portpool command uses it: PoolExhausted 75, LockDirError 77,
/// ConfigError 78, and 71 for running out of a resource or anything else.
///
/// @code
/// try {
///   auto lease = manager.acquire();
/// } catch (const std::exception& error) {
///   std::fprintf(stderr, "%s\n", error.what());
///   return portpool::exit_code_for(error);
/// }
/// @endcode
inline int exit_code_for(const std::exception& error) noexcept {
  if (dynamic_cast<const PoolExhausted*>(&error) != nullptr) {
    return exit_code::pool_exhausted;
  }
  if (dynamic_cast<const LockDirError*>(&error) != nullptr) {
    return exit_code::unsafe_lock_dir;
  }
  if (dynamic_cast<const ConfigError*>(&error) != nullptr) {
    return exit_code::bad_config;
  }
  return exit_code::system_failure;
}

}  // namespace portpool
