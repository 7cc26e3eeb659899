#pragma once

// The bodies of InstanceLease and InstanceManager (included at the end of instance_manager.hpp, or
// by <portpool/src.hpp> under PORTPOOL_SEPARATE_COMPILATION). An instance number is held the way a
// port is: through detail::try_lock on `instance-<N>.lock`, with the holder's record published in
// it, so the number is free again when its holder dies.

#include <portpool/detail/names.hpp>
#include <portpool/detail/process_id.hpp>
#include <portpool/holder.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/impl/valid_name.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <utility>

namespace portpool {

namespace detail {

inline std::shared_ptr<const LockDirectory> open_instance_lock_dir(const Options& options) {
  if (!options.instance_id.empty()) {
    require_valid_name("instance id", options.instance_id);
  }
  require_valid_application_pid(options.application_pid);
  return open_lock_dir(options.lock_dir, options.shared_lock_dir, true);
}

inline LockAttempt try_instance_number(const std::shared_ptr<const LockDirectory>& directory, const Options& options,
                                       unsigned number) {
  auto id = options.instance_id.empty() ? generate_instance_id() : options.instance_id;
  Holder holder{0, {}, detail::current_process_id(), number, std::move(id), std::chrono::system_clock::now()};
  holder.application_pid = options.application_pid;
  auto attempt = try_lock(directory, instance_lock_name(number), holder, true);
  if (attempt.lock) {
    attempt.lock->publish();
  }
  return attempt;
}

}  // namespace detail

PORTPOOL_DECL InstanceLease::InstanceLease(InstanceLease&& other) noexcept
    : lock_(std::move(other.lock_)), number_(other.number_), id_(std::exchange(other.id_, {})) {}

PORTPOOL_DECL InstanceLease& InstanceLease::operator=(InstanceLease&& other) noexcept {
  if (this != &other) {
    release();
    lock_ = std::move(other.lock_);
    number_ = other.number_;
    id_ = std::exchange(other.id_, {});
  }
  return *this;
}

PORTPOOL_DECL InstanceLease::~InstanceLease() = default;

PORTPOOL_DECL bool InstanceLease::held() const noexcept { return lock_ && lock_->held(); }

PORTPOOL_DECL void InstanceLease::release() noexcept {
  if (lock_) {
    lock_->release();
  }
}

PORTPOOL_DECL InstanceLease::InstanceLease(std::unique_ptr<detail::HeldLock> lock)
    : lock_(std::move(lock)), number_(lock_->holder().instance), id_(lock_->holder().instance_id) {}

PORTPOOL_DECL InstanceLease InstanceManager::acquire(const Options& options, unsigned max_instances) {
  if (max_instances == 0) {
    throw ConfigError("the maximum instance number is 0: allow at least one instance");
  }
  auto directory = detail::open_instance_lock_dir(options);
  std::string refusals;
  for (unsigned number = 1; number <= max_instances; ++number) {
    auto attempt = detail::try_instance_number(directory, options, number);
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

PORTPOOL_DECL InstanceLease InstanceManager::acquire(const Options& options, unsigned max_instances,
                                                     std::error_code& error) {
  try {
    auto lease = acquire(options, max_instances);
    error.clear();
    return lease;
  } catch (const Error& failure) {
    error = error_code_for(failure);
  }
  return {};
}

PORTPOOL_DECL InstanceLease InstanceManager::acquire_number(const Options& options, unsigned number) {
  if (number == 0) {
    throw ConfigError("instance 0 is not an instance number: instances count from 1");
  }
  auto attempt = detail::try_instance_number(detail::open_instance_lock_dir(options), options, number);
  if (!attempt.lock) {
    throw PoolExhausted(
        fmt::format("instance {} is taken: {}. Choose another number, or let portpool pick the "
                    "lowest free one",
                    number, attempt.refusal));
  }
  return InstanceLease(std::move(attempt.lock));
}

}  // namespace portpool
