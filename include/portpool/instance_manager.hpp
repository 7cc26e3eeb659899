#pragma once

/// @file
/// InstanceManager: gives each running copy of an application its own instance number.

#include <portpool/detail/config.hpp>
#include <portpool/error.hpp>
#include <portpool/error_code.hpp>
#include <portpool/options.hpp>

#include <memory>
#include <string>
#include <system_error>

namespace portpool {

namespace detail {
class HeldLock;
}  // namespace detail

/// Exclusive use of one instance number, until release() or destruction. Move-only; released by
/// the operating system if the process dies. May have static storage duration.
///
/// Thread safety: as a PortLease: const members from several threads at once; release(),
/// assignment and destruction with no other thread using the lease.
class InstanceLease {
 public:
  /// An empty lease, which holds nothing: `number()` is 0, `held()` false (what
  /// `InstanceManager::acquire(options, max, error)` returns on failure).
  InstanceLease() noexcept = default;
  InstanceLease(const InstanceLease&) = delete;
  InstanceLease& operator=(const InstanceLease&) = delete;
  /// Takes over `other`'s number; `other` is left empty, as after release() (its `number()` still
  /// answers, its `id()` is empty).
  InstanceLease(InstanceLease&& other) noexcept;
  /// Releases this lease's number, then takes over `other`'s as the move constructor does.
  InstanceLease& operator=(InstanceLease&& other) noexcept;
  /// Releases the number (see release()).
  ~InstanceLease();

  /// The instance number N (1-based): put it in `Options::instance`. Still answered after
  /// release() and by a moved-from lease.
  unsigned number() const noexcept { return number_; }

  /// The identity of this running copy: put it in `Options::instance_id` (empty on a moved-from
  /// lease).
  const std::string& id() const noexcept { return id_; }

  /// Whether the number is still held (false for an empty lease, after release(), on a moved-from
  /// lease and in a forked child).
  bool held() const noexcept;

  /// Gives the number back. Idempotent; never throws.
  void release() noexcept;

 private:
  friend class InstanceManager;
  explicit InstanceLease(std::unique_ptr<detail::HeldLock> lock);

  std::unique_ptr<detail::HeldLock> lock_;
  unsigned number_ = 0;
  std::string id_;
};

/// Hands out instance numbers, exclusively across processes, through lock files
/// (`instance-<N>.lock`) in the lock directory.
///
/// Thread safety: every function may be called from any thread at any time; two threads of one
/// process never get the same number, as two processes never do.
///
/// @code
/// auto instance = portpool::InstanceManager::acquire({}, table.layout().max);
/// portpool::Options options;
/// options.instance = instance.number();
/// options.instance_id = instance.id();
/// @endcode
class InstanceManager {
 public:
  /// The lowest free instance number in 1..max_instances (`options.instance` is ignored).
  /// @throws PoolExhausted when all are taken (naming their holders in its message; instance
  /// numbers are not ports, so its `refusals()` is empty); ConfigError when max_instances is 0 or
  /// the instance id is invalid; LockDirError as the port managers do.
  static InstanceLease acquire(const Options& options, unsigned max_instances);

  /// Like acquire(options, max_instances), but reports a failure through `error` instead of an
  /// exception and returns an empty lease (`number() == 0`); on success `error` is cleared. The
  /// codes: `errc::pool_exhausted` when all numbers are taken, `errc::config_error` for
  /// max_instances 0 or an invalid instance id, `errc::lock_dir_error` (LockDirError),
  /// `errc::resource_error` (ResourceError), `errc::system_failure` (any other Error). Who holds
  /// the numbers is not reported (acquire() names them in its message). Only std::bad_alloc may
  /// still propagate.
  ///
  /// @code
  /// std::error_code error;
  /// auto instance = portpool::InstanceManager::acquire({}, 8, error);
  /// if (error) return portpool::exit_code_for(error);
  /// @endcode
  static InstanceLease acquire(const Options& options, unsigned max_instances, std::error_code& error);

  /// Exactly instance `number`.
  /// @throws PoolExhausted when it is taken (naming the holder in its message; `refusals()` is
  /// empty); ConfigError when number is 0.
  static InstanceLease acquire_number(const Options& options, unsigned number);
};

}  // namespace portpool

#if !defined(PORTPOOL_SEPARATE_COMPILATION)
#include <portpool/impl/instance_manager.ipp>
#endif
