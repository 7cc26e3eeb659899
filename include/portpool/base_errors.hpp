#pragma once

/// @file
/// The exceptions that carry only their message: every one portpool throws but PoolExhausted.
/// Include <portpool/error.hpp>, which brings these and PoolExhausted; this header exists so that
/// the headers a Refusal needs (the holder and its description) can throw them too.

#include <stdexcept>

namespace portpool {

/// Base of every portpool exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A port table, a pool, a service name or an option is invalid. Nothing was acquired.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A service name or an instance number that the port table does not have: the caller's argument
/// is wrong, not the table (the portpool command exits 64 for it, as for any usage error). Nothing
/// was acquired.
class ArgumentError : public ConfigError {
 public:
  using ConfigError::ConfigError;
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
