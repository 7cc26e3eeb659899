#pragma once

/// @file
/// InstanceManager: gives each running copy of an application its own instance number.

#include <portpool/detail/names.hpp>
#include <portpool/error.hpp>
#include <portpool/holder.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/impl/valid_name.hpp>
#include <portpool/options.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

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
  void release() noexcept {
    if (lock_) {
      lock_->release();
    }
  }

 private:
  friend class InstanceManager;
  explicit InstanceLease(std::unique_ptr<detail::HeldLock> lock)
      : lock_(std::move(lock)), number_(lock_->holder().instance), id_(lock_->holder().instance_id) {}

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
  static InstanceLease acquire(const Options& options, unsigned max_instances) {
    if (max_instances == 0) {
      throw ConfigError("the maximum instance number is 0: allow at least one instance");
    }
    auto directory = open(options);
    std::string refusals;
    for (unsigned number = 1; number <= max_instances; ++number) {
      auto attempt = try_number(directory, options, number);
      if (attempt.lock) {
        return InstanceLease(std::move(attempt.lock));
      }
      refusals += fmt::format("\n  {}: {}", number, attempt.refusal);
    }
    throw PoolExhausted(
        fmt::format("all instance numbers 1 to {} are taken:{}\nStop one of these copies, or raise "
                    "the maximum number of instances.",
                    max_instances, refusals));
  }

  /// Exactly instance `number`.
  /// @throws PoolExhausted when it is taken (naming the holder); ConfigError when number is 0.
  static InstanceLease acquire_number(const Options& options, unsigned number) {
    if (number == 0) {
      throw ConfigError("instance 0 is not an instance number: instances count from 1");
    }
    auto attempt = try_number(open(options), options, number);
    if (!attempt.lock) {
      throw PoolExhausted(
          fmt::format("instance {} is taken: {}. Choose another number, or let portpool pick the "
                      "lowest free one",
                      number, attempt.refusal));
    }
    return InstanceLease(std::move(attempt.lock));
  }

 private:
  static std::shared_ptr<const detail::LockDirectory> open(const Options& options) {
    if (!options.instance_id.empty()) {
      detail::require_valid_name("instance id", options.instance_id);
    }
    return detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, true);
  }

  static detail::LockAttempt try_number(const std::shared_ptr<const detail::LockDirectory>& directory,
                                        const Options& options, unsigned number) {
    auto id = options.instance_id.empty() ? detail::generate_instance_id() : options.instance_id;
    Holder holder{0, {}, ::getpid(), number, std::move(id), std::chrono::system_clock::now()};
    auto attempt = detail::try_lock(directory, detail::instance_lock_name(number), holder, true);
    if (attempt.lock) {
      attempt.lock->publish();
    }
    return attempt;
  }
};

}  // namespace portpool
