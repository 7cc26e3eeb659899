#pragma once

/// @file
/// Holder: who holds a port, as recorded next to its lock.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace portpool {

/// One live holder of a port, as read from the lock directory by `Registry`.
struct Holder {
  std::uint16_t port = 0;
  std::string service;
  pid_t pid = 0;
  unsigned instance = 0;
  std::string instance_id;
  std::chrono::system_clock::time_point since;
};

}  // namespace portpool
