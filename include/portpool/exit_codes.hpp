#pragma once

/// @file
/// The exit codes of the portpool command and of the example servers (the sysexits.h values, and
/// the shell's 126 and 127 for a command that cannot be run), and the code for each exception
/// portpool throws or error code it reports: for wrappers and launchers that should exit as the
/// command does.

#include <portpool/error.hpp>
#include <portpool/error_code.hpp>

#include <exception>
#include <system_error>

namespace portpool {

namespace exit_code {
/// The command did what was asked.
inline constexpr int success = 0;
inline constexpr int stopped = 0;  ///< a server stopped by SIGINT or SIGTERM
inline constexpr int usage = 64;  ///< EX_USAGE: a wrong command line, an unknown service, an instance outside the table
inline constexpr int unavailable = 69;       ///< EX_UNAVAILABLE
inline constexpr int etcd_unavailable = 69;  ///< etcd cannot be reached (fleet pools, `status --fleet`)
inline constexpr int port_lost =
    69;  ///< a server's shield saw its port lost while serving; `run` ended CMD after a loss
inline constexpr int system_failure = 71;   ///< EX_OSERR: out of descriptors or memory, a failing call
inline constexpr int pool_exhausted = 75;   ///< EX_TEMPFAIL: no free port in the pool, or no free instance
inline constexpr int etcd_refused = 76;     ///< EX_PROTOCOL: etcd answered with an error
inline constexpr int unsafe_lock_dir = 77;  ///< EX_NOPERM: the lock directory is unsafe or unusable
inline constexpr int not_permitted = 77;    ///< EX_NOPERM: a change only root may make
inline constexpr int bad_config = 78;       ///< EX_CONFIG: an unreadable or invalid config file (port table)
/// `portpool run`: CMD exists but cannot be executed.
inline constexpr int command_not_executable = 126;
/// `portpool run`: CMD not found.
inline constexpr int command_not_found = 127;
}  // namespace exit_code

/// The exit code of the portpool command for a code of the `portpool` error category (as above:
/// `errc::pool_exhausted` 75, `errc::lock_dir_error` 77, `errc::config_error` 78,
/// `errc::etcd_unavailable` 69, `errc::etcd_refused` 76); 71 for any other code, 0 for success.
///
/// @code
/// std::error_code error;
/// auto lease = manager.acquire(error);
/// if (error) return portpool::exit_code_for(error);
/// @endcode
inline int exit_code_for(const std::error_code& error) noexcept {
  if (!error) {
    return exit_code::success;
  }
  if (error.category() != error_category()) {
    return exit_code::system_failure;
  }
  switch (static_cast<errc>(error.value())) {
    case errc::pool_exhausted:
      return exit_code::pool_exhausted;
    case errc::lock_dir_error:
      return exit_code::unsafe_lock_dir;
    case errc::config_error:
      return exit_code::bad_config;
    case errc::etcd_unavailable:
      return exit_code::etcd_unavailable;
    case errc::etcd_refused:
      return exit_code::etcd_refused;
    case errc::argument_error:
      return exit_code::usage;
    case errc::resource_error:
    case errc::system_failure:
      break;
  }
  return exit_code::system_failure;
}

/// The exit code of the portpool command for the library's `error`: PoolExhausted 75,
/// LockDirError 77, ArgumentError 64 (an unknown service, an instance out of range: what the
/// command calls a usage error), ConfigError 78 (an invalid config file or table),
/// fleet::EtcdUnavailable 69, fleet::EtcdError 76, and 71 for running out of a resource
/// (ResourceError) or anything else.
///
/// @code
/// try {
///   auto lease = manager.acquire();
/// } catch (const std::exception& error) {
///   std::fprintf(stderr, "%s\n", error.what());
///   return portpool::exit_code_for(error);
/// }
/// @endcode
inline int exit_code_for(const std::exception& error) noexcept { return exit_code_for(error_code_for(error)); }

}  // namespace portpool
