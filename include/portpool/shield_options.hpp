#pragma once

/// @file
/// What a PortShield reports (ShieldEvent, LostReason) and how it watches (ShieldOptions).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace portpool {

/// Why a shield reported its port lost.
enum class LostReason {
  lock_file_removed,   ///< the lock file was deleted: another process can now lock a new file of that name
  lock_file_replaced,  ///< the lock file's name now names another file (a rename over it, a new file)
  /// a socket of another process uses the port for a transport the lease holds it for: listens on
  /// it (TCP), or is bound to it (UDP, for a `udp` or `both` lease); the message says which
  foreign_listener,
  listener_gone,  ///< the service's own socket is gone (only with `ShieldOptions::expect_listener`)
  /// the lock directory's path no longer names the directory the lock file is in (the directory,
  /// or one above it, was renamed, replaced by another or deleted): other processes lock their
  /// files elsewhere and can take the port
  lock_directory_moved,
};

/// The reason's name, e.g. "foreign_listener".
inline const char* to_string(LostReason reason) noexcept {
  switch (reason) {
    case LostReason::lock_file_removed:
      return "lock_file_removed";
    case LostReason::lock_file_replaced:
      return "lock_file_replaced";
    case LostReason::foreign_listener:
      return "foreign_listener";
    case LostReason::listener_gone:
      return "listener_gone";
    case LostReason::lock_directory_moved:
      return "lock_directory_moved";
  }
  return "unknown";
}

/// What a shield reports, once, when it finds its port lost.
struct ShieldEvent {
  LostReason reason = LostReason::lock_file_removed;  ///< what was found
  std::uint16_t port = 0;                             ///< the port lost
  std::string service;                                ///< the lease's service
  std::string message;                                ///< for people: what was found and what to do
};

/// Settings of a shield. A default-constructed ShieldOptions works.
struct ShieldOptions {
  /// How often the socket tables (and, as a safety net, the lock file) are checked. Shields
  /// with the same interval check together, so that one read of the tables serves them all.
  std::chrono::milliseconds interval{1000};

  /// With `expect_listener`: how long after the shield starts the service may take to listen.
  std::chrono::milliseconds grace{5000};

  /// Report `listener_gone` when, after `grace`, the service does not serve its port for every
  /// transport the lease is held for. TCP: for a `ListeningLease`, when its acceptor no longer
  /// listens; for a plain lease, when no socket of this process (or of `listener_processes`)
  /// listens on the port. UDP (`udp`, `both`): when no UDP socket of theirs is bound to the port.
  bool expect_listener = false;

  /// Processes besides this one whose listeners on the port (and UDP sockets bound to it) are the
  /// service's own, for example a child the service launched and handed the port to: their
  /// sockets are not foreign. For a plain lease with `expect_listener`, a listener (or UDP socket)
  /// in one of them also satisfies the expectation.
  /// A process that has exited, or whose descriptors this process may not read
  /// (`/proc/PID/fd`), has no listeners. Their descriptors are only looked at when the port has
  /// a listener not known to be ours, so an idle port costs nothing more.
  ///
  /// @code
  /// pid_t server = spawn_server(lease.port());
  /// portpool::ShieldOptions options;
  /// options.listener_processes = {server};
  /// portpool::PortShield shield(io.get_executor(), lease, on_lost, options);
  /// @endcode
  std::vector<pid_t> listener_processes;

  /// Processes whose listeners, and those of all their descendants, are the service's own: for a
  /// service started through a launcher (`sh -c`, `npm start`, a master with workers), whose
  /// listener belongs to a descendant of the process that was started. Pass this process's own
  /// pid to count everything it started; with PR_SET_CHILD_SUBREAPER, descendants whose parent
  /// died stay in the tree. The descendants are looked up (one walk of /proc) only when the port
  /// has a listener not already known to be ours; otherwise they behave as `listener_processes`.
  std::vector<pid_t> listener_process_trees;
};

}  // namespace portpool
