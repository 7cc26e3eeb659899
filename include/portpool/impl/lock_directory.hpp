#pragma once

// The lock directory is opened once, as a descriptor, and every file in it is reached with
// *at() calls relative to that descriptor. The safety checks run on the opened descriptor
// (fstat), so the directory cannot be swapped for a symlink or another user's directory between
// the check and the use.
//
// A descriptor outlives a rename of its directory: a manager that kept locking through it after
// `mv ld ld.old` would lock files that no other process looks at. So a lock, once taken, is checked
// by the directory's path (try_lock in lock_file.hpp), and CurrentLockDirectory opens the path
// again when it no longer names the directory opened.

#include <portpool/detail/message.hpp>
#include <portpool/detail/system_error.hpp>
#include <portpool/error.hpp>
#include <portpool/lock_dir.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

namespace portpool::detail {

struct LockDirectory {
  std::filesystem::path path;           ///< as configured (or the default)
  std::filesystem::path absolute_path;  ///< `path` made absolute when opened: a later chdir() changes nothing
  UniqueFd fd;
  dev_t device = 0;
  ino_t inode = 0;
  uid_t owner = 0;  ///< of a private directory, the user every lock file in it must belong to
  uid_t user = 0;   ///< the effective user that opened it: the one its holders' locks name (detail/lock_range.hpp)
  bool shared = false;
};

inline void create_lock_dir(const std::filesystem::path& path) {
  std::error_code error;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), error);
  }
  if (error || (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)) {
    auto reason = error ? error.message() : last_error_text();
    throw LockDirError(
        format_message("cannot create the lock directory {}: {}; create it yourself (mode 0700) or choose another one "
                       "with PORTPOOL_LOCK_DIR",
                       {path.string(), reason}));
  }
}

inline std::string open_failure(const std::filesystem::path& path, int error) {
  // With O_DIRECTORY | O_NOFOLLOW, a symbolic link fails as ELOOP or ENOTDIR depending on the kernel.
  std::error_code ignored;
  if ((error == ELOOP || error == ENOTDIR) && std::filesystem::is_symlink(path, ignored)) {
    error = ELOOP;
  }
  switch (error) {
    case ELOOP:
      return format_message(
          "the lock directory {} is a symbolic link; portpool refuses it because a link can redirect "
          "locks to a place another user controls. Remove the link, or set PORTPOOL_LOCK_DIR to a real "
          "directory",
          {path.string()});
    case ENOTDIR:
      return format_message(
          "the lock directory {} is not a directory; remove what is there or choose another directory "
          "with PORTPOOL_LOCK_DIR",
          {path.string()});
    default:
      return format_message(
          "cannot open the lock directory {}: {}; fix its permissions or choose another "
          "directory with PORTPOOL_LOCK_DIR",
          {path.string(), errno_text(error)});
  }
}

inline void check_lock_dir_is_private(const std::filesystem::path& path, const struct stat& status) {
  if (status.st_uid != ::geteuid()) {
    throw LockDirError(
        format_message("the lock directory {} belongs to uid {}, not to you (uid {}): another user could hold or "
                       "block your ports there. Use a directory of your own (PORTPOOL_LOCK_DIR), or set "
                       "Options::shared_lock_dir if it is meant to be shared",
                       {path.string(), status.st_uid, ::geteuid()}));
  }
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", status.st_mode & 07777U);
    throw LockDirError(
        format_message("the lock directory {} is writable by group or others (mode {}): another user could hold "
                       "or block your ports there. Run 'chmod 700 {}', or set Options::shared_lock_dir if it is "
                       "meant to be shared",
                       {path.string(), mode.data(), path.string()}));
  }
}

/// Opens (creating it when `create`) and checks the lock directory. Returns null when it does
/// not exist and `create` is false: nothing was ever locked there.
inline std::shared_ptr<const LockDirectory> open_lock_dir(const std::filesystem::path& configured, bool shared,
                                                          bool create) {
  auto directory = std::make_shared<LockDirectory>();
  directory->path = resolve_lock_dir(configured);
  std::error_code ignored;
  directory->absolute_path = std::filesystem::absolute(directory->path, ignored);
  if (directory->absolute_path.empty()) {
    directory->absolute_path = directory->path;
  }
  if (create) {
    create_lock_dir(directory->path);
  }
  directory->fd.reset(::open(directory->path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!directory->fd) {
    if (errno == ENOENT && !create) {
      return nullptr;
    }
    throw LockDirError(open_failure(directory->path, errno));
  }
  struct stat status {};
  if (::fstat(directory->fd.get(), &status) != 0) {
    throw LockDirError(open_failure(directory->path, errno));
  }
  if (!shared) {
    check_lock_dir_is_private(directory->path, status);
  }
  directory->shared = shared;
  directory->device = status.st_dev;
  directory->inode = status.st_ino;
  directory->owner = status.st_uid;
  directory->user = ::geteuid();
  return directory;
}

/// Whether the path of `directory` still names the directory that was opened (not renamed,
/// replaced or deleted since, nor a directory above it). One lstat.
inline bool still_named(const LockDirectory& directory) {
  struct stat status {};
  return ::lstat(directory.absolute_path.c_str(), &status) == 0 && status.st_dev == directory.device &&
         status.st_ino == directory.inode;
}

/// The lock directory a lock policy locks in: opened (and created) at construction, and opened
/// again, with the same checks, when a lock attempt finds that its path no longer names the
/// directory opened (LockAttempt::directory_moved): a directory moved away is left to the leases
/// that still hold files in it, and new locks go where the path leads now, where other processes
/// look. Thread-safe.
class CurrentLockDirectory {
 public:
  /// @throws LockDirError as open_lock_dir().
  CurrentLockDirectory(const std::filesystem::path& configured, bool shared)
      : shared_(shared), directory_(open_lock_dir(configured, shared, true)), path_(directory_->path) {}

  /// The directory opened last.
  std::shared_ptr<const LockDirectory> get() {
    std::lock_guard guard(mutex_);
    return directory_;
  }

  /// Opens the path again, in place of `moved`, and returns what it opened.
  /// @throws LockDirError when what the path names now cannot be used.
  std::shared_ptr<const LockDirectory> reopen(const std::shared_ptr<const LockDirectory>& moved) {
    std::shared_ptr<const LockDirectory> reopened;
    try {
      reopened = open_lock_dir(path_, shared_, true);
    } catch (const LockDirError& error) {
      throw LockDirError(format_message(
          "the lock directory {} was moved, replaced or deleted while in use, and what its path names now cannot be "
          "used: {}",
          {path_.string(), error.what()}));
    }
    std::lock_guard guard(mutex_);
    if (directory_ == moved) {
      directory_ = reopened;
    }
    return reopened;
  }

  /// The path, as configured (or the default); the same after a reopening.
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  bool shared_;
  std::mutex mutex_;
  std::shared_ptr<const LockDirectory> directory_;
  const std::filesystem::path path_;
};

}  // namespace portpool::detail
