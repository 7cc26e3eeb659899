#pragma once

// The bodies of PortLock and FileLockPolicy (included at the end of lock_policy.hpp, or by
// <portpool/src.hpp> under PORTPOOL_SEPARATE_COMPILATION).

#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/impl/lock_file_cache.hpp>

namespace portpool {

PORTPOOL_DECL PortLock::PortLock(std::unique_ptr<detail::HeldLock> lock) noexcept : lock_(std::move(lock)) {}

PORTPOOL_DECL PortLock::PortLock(PortLock&& other) noexcept = default;

PORTPOOL_DECL PortLock& PortLock::operator=(PortLock&& other) noexcept = default;

PORTPOOL_DECL PortLock::~PortLock() = default;

PORTPOOL_DECL const Holder& PortLock::holder() const noexcept { return lock_->holder(); }

PORTPOOL_DECL void PortLock::publish() { lock_->publish(); }

PORTPOOL_DECL void PortLock::set_fencing_token(FencingToken token) { lock_->set_fencing_token(std::move(token)); }

PORTPOOL_DECL void PortLock::call_after_release(std::function<void()> action) {
  lock_->call_after_release(std::move(action));
}

PORTPOOL_DECL FileLockPolicy::FileLockPolicy(const Options& options)
    : directory_(std::make_shared<detail::CurrentLockDirectory>(options.lock_dir, options.shared_lock_dir)),
      kept_files_(std::make_shared<detail::LockFileCache>()) {}

PORTPOOL_DECL LockAttempt FileLockPolicy::try_lock(const Holder& holder, bool explain) const {
  auto attempt = detail::try_lock_where_named(*directory_, lock_name(holder.port), holder, explain, kept_files_);
  if (!attempt.lock) {
    return {std::nullopt, std::move(attempt.refusal), attempt.reason, std::move(attempt.holder)};
  }
  return {PortLock(std::move(attempt.lock)), {}, RefusalReason::held, std::nullopt};
}

PORTPOOL_DECL const std::filesystem::path& FileLockPolicy::lock_dir() const noexcept { return directory_->path(); }

}  // namespace portpool
