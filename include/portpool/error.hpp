#pragma once

/// @file
/// The exceptions portpool throws. Every message says what is wrong and what to do about it.

#include <stdexcept>
#include <string>

namespace portpool {

/// Base of every portpool exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// No port (or instance number) of a pool could be taken. The message names the service, the
/// whole pool, and for each port why it was not available: held by which process, or in use by a
/// program outside portpool.
class PoolExhausted : public Error {
 public:
  using Error::Error;
};

/// A port table, a pool, a service name or an option is invalid. Nothing was acquired.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// The lock directory is unsafe (a symbolic link, another user's, writable by others) or unusable
/// (cannot be created or written). Nothing was acquired.
class LockDirError : public Error {
 public:
  using Error::Error;
};

/// The system ran out of a resource portpool needs: descriptors (`EMFILE`, `ENFILE`) or memory
/// (`ENOMEM`, `ENOBUFS`). The message names the limit. Nothing was acquired; retrying after
/// releasing descriptors or raising the limit (`ulimit -n`) may succeed.
class ResourceError : public Error {
 public:
  using Error::Error;
};

}  // namespace portpool
