#pragma once

/// @file
/// Holder: who holds a port, as recorded next to its lock.

#include <portpool/service_description.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace portpool {

/// What a holder says of its service's readiness (see `PortLease::set_readiness`).
enum class Readiness {
  unknown,   ///< the holder never said (the default)
  starting,  ///< the service is starting and not ready to serve yet
  ready,     ///< the service serves
  stopping,  ///< the service is shutting down
};

/// The readiness's name: "unknown", "starting", "ready" or "stopping".
inline const char* to_string(Readiness readiness) noexcept {
  switch (readiness) {
    case Readiness::starting:
      return "starting";
    case Readiness::ready:
      return "ready";
    case Readiness::stopping:
      return "stopping";
    case Readiness::unknown:
      break;
  }
  return "unknown";
}

/// One live holder of a port, as read from the lock directory by `Registry`.
struct Holder {
  std::uint16_t port = 0;
  std::string service;
  pid_t pid = 0;
  unsigned instance = 0;
  std::string instance_id;
  std::chrono::system_clock::time_point since;
  Readiness readiness = Readiness::unknown;
  /// What the holder serves, as it described it (empty when it did not).
  ServiceDescription description{};
};

}  // namespace portpool
