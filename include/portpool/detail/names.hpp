#pragma once

// Service names and instance ids end up in file names' neighbours and in line-based records read
// by other processes, so they are restricted to a character set that needs no quoting or escaping.

#include <portpool/detail/message.hpp>
#include <portpool/detail/parse_number.hpp>

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
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

/// The lock file of `port` in the lock directory.
inline std::string port_lock_name(std::uint16_t port) { return format_message("port-{}.lock", {port}); }

/// The number in the lock file name `name` that starts with `prefix` ("port-", "instance-"), or
/// nullopt for any other name: a lock file's name is exactly the one port_lock_name() or
/// instance_lock_name() gives ("port-070.lock" is not port 70's, "port-0.lock" nobody's).
template <class Number>
std::optional<Number> number_of_lock_name(std::string_view name, std::string_view prefix) {
  constexpr std::string_view suffix = ".lock";
  if (name.size() <= prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
      name.substr(name.size() - suffix.size()) != suffix) {
    return std::nullopt;
  }
  auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  auto number = parse_integer<Number>(digits);
  if (!number || *number == 0 || digits.front() == '0') {
    return std::nullopt;
  }
  return number;
}

/// The port whose lock file is named `name`, or nullopt for any other name.
inline std::optional<std::uint16_t> port_of_lock_name(std::string_view name) {
  return number_of_lock_name<std::uint16_t>(name, "port-");
}

/// The lock file of instance number `number` in the lock directory.
inline std::string instance_lock_name(unsigned number) { return format_message("instance-{}.lock", {number}); }

/// The instance number whose lock file is named `name`, or nullopt for any other name.
inline std::optional<unsigned> instance_of_lock_name(std::string_view name) {
  return number_of_lock_name<unsigned>(name, "instance-");
}

/// An identity for a running copy that is unique on the machine for practical purposes.
inline std::string generate_instance_id() {
  std::uint32_t suffix = 0;
  if (::getrandom(&suffix, sizeof suffix, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof suffix)) {
    // No entropy yet (early boot): the clock still tells copies with one pid apart.
    suffix = static_cast<std::uint32_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  std::array<char, 32> identity{};
  std::snprintf(identity.data(), identity.size(), "%ld-%08x", static_cast<long>(::getpid()),
                static_cast<unsigned>(suffix));
  return identity.data();
}

}  // namespace portpool::detail
