#pragma once

/// @file
/// The `portpool` error category: one `std::error_code` per exception type, for the non-throwing
/// overloads (`acquire(std::error_code&)`) and for callers that keep error codes rather than
/// exceptions.
///
/// | code | exception |
/// |---|---|
/// | `errc::pool_exhausted` | PoolExhausted |
/// | `errc::argument_error` | ArgumentError (an unknown service, an instance out of range) |
/// | `errc::config_error` | any other ConfigError |
/// | `errc::lock_dir_error` | LockDirError |
/// | `errc::resource_error` | ResourceError |
/// | `errc::etcd_unavailable` | fleet::EtcdUnavailable |
/// | `errc::etcd_refused` | fleet::EtcdError |
/// | `errc::system_failure` | any other Error (fleet::InvalidFleetRecord, a failing system call) |
///
/// @code
/// std::error_code error;
/// portpool::PortLease lease = manager.acquire(error);
/// if (error == portpool::errc::pool_exhausted) { /* try later */ }
/// @endcode

#include <portpool/error.hpp>
#include <portpool/fleet/fleet_error.hpp>

#include <exception>
#include <string>
#include <system_error>
#include <type_traits>

namespace portpool {

/// The codes of the `portpool` error category; 0 is success.
enum class errc {
  pool_exhausted = 1,  ///< no port (or instance number) of the pool could be taken
  config_error,        ///< an invalid table, pool, service name or option; nothing was acquired
  lock_dir_error,      ///< the lock directory is unsafe or unusable; nothing was acquired
  resource_error,      ///< out of descriptors or memory for sockets and lock files; nothing was acquired
  system_failure,      ///< another failure of the system (a failing call); nothing was acquired
  etcd_unavailable,    ///< etcd cannot be reached (fleet pools); nothing was acquired
  etcd_refused,        ///< etcd answered with an error (fleet pools); nothing was acquired
  argument_error,      ///< a service or instance number the table does not have; nothing was acquired
};

}  // namespace portpool

namespace std {
template <>
struct is_error_code_enum<portpool::errc> : true_type {};
}  // namespace std

namespace portpool {

namespace detail {

class PortpoolErrorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "portpool"; }

  std::string message(int code) const override {
    switch (static_cast<errc>(code)) {
      case errc::pool_exhausted:
        return "no free port in the pool";
      case errc::config_error:
        return "invalid configuration";
      case errc::lock_dir_error:
        return "the lock directory is unsafe or unusable";
      case errc::resource_error:
        return "out of descriptors or memory";
      case errc::system_failure:
        return "system failure";
      case errc::etcd_unavailable:
        return "etcd cannot be reached";
      case errc::etcd_refused:
        return "etcd refused the request";
      case errc::argument_error:
        return "a service or instance number the port table does not have";
    }
    return "unknown portpool error";
  }
};

}  // namespace detail

/// The `portpool` error category (its name() is "portpool"). Thread-safe.
inline const std::error_category& error_category() noexcept {
  static const detail::PortpoolErrorCategory category;
  return category;
}

/// `code` in the `portpool` category (found by argument-dependent lookup, so
/// `std::error_code error = portpool::errc::pool_exhausted;` works).
inline std::error_code make_error_code(errc code) noexcept { return {static_cast<int>(code), error_category()}; }

/// The code of an exception the library throws (see the table above); `system_failure` for any
/// other exception.
///
/// @code
/// } catch (const std::exception& failure) {
///   std::error_code error = portpool::error_code_for(failure);
/// }
/// @endcode
inline std::error_code error_code_for(const std::exception& error) noexcept {
  if (dynamic_cast<const PoolExhausted*>(&error) != nullptr) {
    return errc::pool_exhausted;
  }
  if (dynamic_cast<const ArgumentError*>(&error) != nullptr) {
    return errc::argument_error;
  }
  if (dynamic_cast<const ConfigError*>(&error) != nullptr) {
    return errc::config_error;
  }
  if (dynamic_cast<const LockDirError*>(&error) != nullptr) {
    return errc::lock_dir_error;
  }
  if (dynamic_cast<const ResourceError*>(&error) != nullptr) {
    return errc::resource_error;
  }
  if (dynamic_cast<const fleet::EtcdUnavailable*>(&error) != nullptr) {
    return errc::etcd_unavailable;
  }
  if (dynamic_cast<const fleet::EtcdError*>(&error) != nullptr) {
    return errc::etcd_refused;
  }
  return errc::system_failure;
}

}  // namespace portpool
