#pragma once

/// @file
/// PortLease: the RAII guard of one port taken from a pool.

#include <portpool/detail/config.hpp>
#include <portpool/fencing_token.hpp>
#include <portpool/holder.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/options.hpp>

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace portpool {

class PortLease;

namespace detail {
inline const HeldLock* held_lock_of(const PortLease& lease) noexcept;
}  // namespace detail

/// Identity of the lock file a lease holds (what `PortShield` compares the path against).
struct LockFileIdentity {
  /// The file's `st_dev`.
  dev_t device = 0;
  /// The file's `st_ino`.
  ino_t inode = 0;
};

/// Exclusive use of one port of a service's pool, until release() or destruction.
///
/// Move-only. While a lease is alive no other PortLease on the machine, in this process (any
/// thread, any copy of the library, plugins included) or any other, holds the same port through
/// the same lock directory. If the process dies, even by SIGKILL, the operating system drops the
/// lock at once and the port is free again. A lease may have static storage duration: it is
/// released when it is destroyed at exit, whatever else has been destroyed before it.
///
/// A lease does not survive exec(). A child forked without exec shares the lock until it exits
/// or execs (its copy of the lease reports `held() == false`): a launcher must stay alive while
/// its child uses the port, or pass the child `lock_descriptor()`.
///
/// Thread safety: const members may be called from several threads at once; release(),
/// set_readiness(), set_metadata(), assignment and destruction need that no other thread uses the
/// lease meanwhile (two threads releasing one lease race). A lease may be released on another
/// thread than the one that acquired it; distinct leases are independent.
///
/// @code
/// portpool::PortPoolManager manager("api", {9000, 9001, 9002});
/// portpool::PortLease lease = manager.acquire();
/// start_server(lease.port());
/// @endcode
class PortLease {
 public:
  /// An empty lease, which holds nothing: `port()` is 0, `held()` false (what the
  /// `acquire(std::error_code&)` overloads return on failure).
  PortLease() noexcept = default;
  PortLease(const PortLease&) = delete;
  PortLease& operator=(const PortLease&) = delete;
  /// Takes over `other`'s port; `other` is left empty, as after release(): no lock, no names, no
  /// callback (its `port()` still answers).
  PortLease(PortLease&& other) noexcept;
  /// Releases this lease's port (see release()), then takes over `other`'s, leaving `other` as the
  /// move constructor does.
  PortLease& operator=(PortLease&& other) noexcept;
  /// Releases the port (see release()).
  ~PortLease();

  /// The port held (still answered after release(), and by a moved-from lease).
  std::uint16_t port() const noexcept { return port_; }

  /// The service whose pool the port comes from (empty on a moved-from lease).
  const std::string& service() const noexcept { return service_; }

  /// The instance number the port was taken for.
  unsigned instance() const noexcept { return instance_; }

  /// The identity recorded for the holding application copy (empty on a moved-from lease).
  const std::string& instance_id() const noexcept { return instance_id_; }

  /// Which socket types the port is held for (the manager's `Options::transport`).
  Transport transport() const noexcept { return transport_; }

  /// The fencing token of a fleet-wide hold (the etcd revision of its claim and the cluster's id),
  /// for systems downstream that must refuse a stale holder; empty for a host-wide hold and on a
  /// moved-from lease. Still answered after release().
  const std::optional<FencingToken>& fencing_token() const noexcept { return fencing_token_; }

  /// Whether the port is still held (false after release(), on a moved-from lease and in a
  /// forked child).
  bool held() const noexcept;

  /// held(): false for an empty lease, after release(), on a moved-from lease and in a forked child.
  ///
  /// @code
  /// std::error_code error;
  /// if (auto lease = manager.acquire(error)) start_server(lease.port());
  /// @endcode
  explicit operator bool() const noexcept { return held(); }

  /// Path of the lock file that guards the port (empty on a moved-from lease).
  std::filesystem::path lock_file() const;

  /// Device and inode of the lock file as it was locked ({0, 0} on a moved-from lease).
  LockFileIdentity lock_file_identity() const noexcept;

  /// Says how the service on the port is doing, for `Registry` readers (`portpool status`, the
  /// gateway's `/api/services`): rewrites this lease's holder record. Does nothing on a lease that
  /// no longer holds its port.
  /// @throws LockDirError when the record cannot be written (full or failing filesystem).
  ///
  /// @code
  /// lease.set_readiness(portpool::Readiness::ready);
  /// @endcode
  void set_readiness(Readiness readiness);

  /// Sets one metadata entry of this lease's description (adds `key`, or replaces its value) and
  /// rewrites the holder record, for values that change while the port is held, such as the
  /// outcome of a health check: `Registry` readers (`portpool status --json`, the gateway) see it
  /// in the description's metadata. Does nothing on a lease that no longer holds its port.
  /// @throws ConfigError when the key or value is invalid or the description would outgrow its
  /// limits (see ServiceDescription); the record is then unchanged.
  /// @throws LockDirError when the record cannot be written (full or failing filesystem).
  ///
  /// @code
  /// lease.set_metadata("liveness", "ok");
  /// @endcode
  void set_metadata(const std::string& key, std::string value);

  /// The open descriptor of the lock file (close-on-exec), or -1 when the lease holds nothing.
  /// For launchers: a duplicate passed to a child process (without close-on-exec) keeps the port
  /// held for as long as any process keeps it open, even after this process has died (a lease whose
  /// descriptor was asked for closes it on release instead of keeping it for the manager's next
  /// acquisition).
  int lock_descriptor() const noexcept;

  /// Gives the port back. Idempotent; never throws.
  void release() noexcept;

 private:
  template <class, class>
  friend class BasicPortPoolManager;
  friend const detail::HeldLock* detail::held_lock_of(const PortLease& lease) noexcept;

  PortLease(PortLock lock, std::function<void(const Event&)> on_event);

  std::unique_ptr<detail::HeldLock> lock_;
  std::uint16_t port_ = 0;
  std::string service_;
  unsigned instance_ = 0;
  std::string instance_id_;
  Transport transport_ = Transport::tcp;
  std::optional<FencingToken> fencing_token_;
  std::function<void(const Event&)> on_event_;
};

namespace detail {
// The lock behind a lease, for the shield (null on a moved-from lease).
inline const HeldLock* held_lock_of(const PortLease& lease) noexcept { return lease.lock_.get(); }
}  // namespace detail

}  // namespace portpool

#if !defined(PORTPOOL_SEPARATE_COMPILATION)
#include <portpool/impl/port_lease.ipp>
#endif
