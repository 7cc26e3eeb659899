#pragma once

// Service names and instance ids end up in file names' neighbours and in line-based records read
// by other processes, so they are restricted to a character set that needs no quoting or escaping.

#include <portpool/error.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace portpool::detail {

inline constexpr std::size_t max_name_length = 64;

inline bool is_valid_name(std::string_view name) {
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  };
  return !name.empty() && name.size() <= max_name_length && name.front() != '.' &&
         std::all_of(name.begin(), name.end(), allowed);
}

inline void require_valid_name(std::string_view what, std::string_view name) {
  if (!is_valid_name(name)) {
    throw ConfigError(
        fmt::format("{} '{}' is invalid: use 1 to {} letters, digits, '-', '_' or '.' (not starting with '.')", what,
                    name, max_name_length));
  }
}

/// The lock file of `port` in the lock directory.
inline std::string port_lock_name(std::uint16_t port) { return fmt::format("port-{}.lock", port); }

/// The lock file of instance number `number` in the lock directory.
inline std::string instance_lock_name(unsigned number) { return fmt::format("instance-{}.lock", number); }

/// An identity for a running copy that is unique on the machine for practical purposes.
inline std::string generate_instance_id() {
  std::random_device entropy;
  return fmt::format("{}-{:08x}", ::getpid(), entropy());
}

}  // namespace portpool::detail
