#pragma once

/// @file
/// Lock policies: how a manager makes a port exclusive across processes.

#include <portpool/detail/lock_directory.hpp>
#include <portpool/detail/lock_file.hpp>
#include <portpool/detail/names.hpp>
#include <portpool/holder.hpp>
#include <portpool/options.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace portpool {

/// The default lock policy: one lock file per port (`port-<N>.lock`) in the lock directory, held
/// with a Linux open-file-description lock (`F_OFD_SETLK`), with the holder record written into
/// it. The directory is created (mode 0700) and checked when the policy is constructed.
///
/// @throws LockDirError from the constructor when the lock directory is unsafe or unusable.
class FileLockPolicy {
 public:
  explicit FileLockPolicy(const Options& options)
      : directory_(detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, true)) {}

  /// Tries once, without waiting, to lock `holder.port`. When `explain` is set, a refusal says
  /// why (who holds the port).
  detail::LockAttempt try_lock(const Holder& holder, bool explain) const {
    return detail::try_lock(directory_, lock_name(holder.port), holder, explain);
  }

  const std::filesystem::path& lock_dir() const noexcept { return directory_->path; }

  /// The name of `port`'s lock file in the lock directory.
  static std::string lock_name(std::uint16_t port) { return detail::port_lock_name(port); }

 private:
  std::shared_ptr<const detail::LockDirectory> directory_;
};

}  // namespace portpool
