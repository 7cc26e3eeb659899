#pragma once

/// @file
/// InstanceManager: gives each running copy of an application its own instance number.

#include <portpool/error.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/options.hpp>

#include <memory>
#include <string>

namespace portpool {

/// Exclusive use of one instance number, until release() or destruction. Move-only; released by
/// the operating system if the process dies. May have static storage duration.
class InstanceLease {
 public:
  InstanceLease(const InstanceLease&) = delete;
  InstanceLease& operator=(const InstanceLease&) = delete;
  InstanceLease(InstanceLease&&) noexcept = default;
  InstanceLease& operator=(InstanceLease&&) noexcept = default;
  ~InstanceLease() = default;

  /// The instance number N (1-based): put it in `Options::instance`. Still answered after
  /// release() and by a moved-from lease.
  unsigned number() const noexcept { return number_; }

  /// The identity of this running copy: put it in `Options::instance_id` (empty on a moved-from
  /// lease).
  const std::string& id() const noexcept { return id_; }

  bool held() const noexcept { return lock_ && lock_->held(); }

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
/// @code
/// auto instance = portpool::InstanceManager::acquire({}, table.layout().max);
/// portpool::Options options;
/// options.instance = instance.number();
/// options.instance_id = instance.id();
/// @endcode
class InstanceManager {
 public:
  /// The lowest free instance number in 1..max_instances (`options.instance` is ignored).
  /// @throws PoolExhausted when all are taken (naming their holders); ConfigError when
  /// max_instances is 0 or the instance id is invalid; LockDirError as the port managers do.
  static InstanceLease acquire(const Options& options, unsigned max_instances);

  /// Exactly instance `number`.
  /// @throws PoolExhausted when it is taken (naming the holder); ConfigError when number is 0.
  static InstanceLease acquire_number(const Options& options, unsigned number);
};

}  // namespace portpool

#include <portpool/impl/instance_manager.hpp>
