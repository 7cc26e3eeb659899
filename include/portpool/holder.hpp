#pragma once

/// @file
/// Holder: who holds a port, as recorded next to its lock.

#include <portpool/service_description.hpp>
#include <portpool/transport.hpp>

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

/// One holder of a port (or of an instance number), as recorded next to its lock: what `Registry`
/// reads from the lock directory, and what a lock policy is asked to lock for. A plain value.
struct Holder {
  /// The port held; 0 for the holder of an instance number.
  std::uint16_t port = 0;
  /// The service the port was taken for; empty for the holder of an instance number.
  std::string service;
  /// The process that took the lock, as numbered in its own pid namespace.
  pid_t pid = 0;
  /// The holder's instance number (`Options::instance`, from 1).
  unsigned instance = 0;
  /// The holder's `Options::instance_id` (generated when it gave none).
  std::string instance_id;
  /// When the acquisition that took the lock began (the record keeps milliseconds).
  std::chrono::system_clock::time_point since;
  /// What the holder last said of its service (`PortLease::set_readiness`).
  Readiness readiness = Readiness::unknown;
  /// What the holder serves, as it described it (empty when it did not).
  ServiceDescription description{};
  /// Which socket types the port is held for (`Options::transport`); `tcp` for the holder of an
  /// instance number and in records written before transports existed.
  Transport transport = Transport::tcp;
  /// The process the lock was taken for, when `pid` is a helper acting for it
  /// (`Options::application_pid`: `portpool lease` names the program that started it); 0 when the
  /// holder took it for itself. Numbered in the holder's pid namespace.
  pid_t application_pid = 0;
  /// Whether the user holding the lock wrote this record: always in a private lock directory; in
  /// a shared one (`Options::shared_lock_dir`), when the record comes from the holder's own record
  /// file. False when it was read from the lock file itself, which every member of a shared
  /// directory can rewrite (docs/security.md, "Shared lock directories").
  bool verified = true;
};

/// The process to show as the holder: the application a helper holds the lock for, else the
/// process holding it. (`Holder::pid` stays the process whose death frees the lock.)
inline pid_t application_pid_of(const Holder& holder) noexcept {
  return holder.application_pid != 0 ? holder.application_pid : holder.pid;
}

}  // namespace portpool
