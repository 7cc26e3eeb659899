#pragma once

// The lock directory is opened once, as a descriptor, and every file in it is reached with
// *at() calls relative to that descriptor. The safety checks run on the opened descriptor
// (fstat), so the directory cannot be swapped for a symlink or another user's directory between
// the check and the use.

#include <portpool/detail/system_error.hpp>
#include <portpool/error.hpp>
#include <portpool/lock_dir.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

namespace portpool::detail {

struct LockDirectory {
  std::filesystem::path path;
  UniqueFd fd;
  dev_t device = 0;
  ino_t inode = 0;
  uid_t owner = 0;  ///< of a private directory, the user every lock file in it must belong to
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
        fmt::format("cannot create the lock directory {}: {}; create it yourself (mode 0700) or choose another one "
                    "with PORTPOOL_LOCK_DIR",
                    path.string(), reason));
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
      return fmt::format(
          "the lock directory {} is a symbolic link; portpool refuses it because a link can redirect "
          "locks to a place another user controls. Remove the link, or set PORTPOOL_LOCK_DIR to a real "
          "directory",
          path.string());
    case ENOTDIR:
      return fmt::format(
          "the lock directory {} is not a directory; remove what is there or choose another directory "
          "with PORTPOOL_LOCK_DIR",
          path.string());
    default:
      return fmt::format(
          "cannot open the lock directory {}: {}; fix its permissions or choose another "
          "directory with PORTPOOL_LOCK_DIR",
          path.string(), errno_text(error));
  }
}

inline void check_lock_dir_is_private(const std::filesystem::path& path, const struct stat& status) {
  if (status.st_uid != ::geteuid()) {
    throw LockDirError(
        fmt::format("the lock directory {} belongs to uid {}, not to you (uid {}): another user could hold or "
                    "block your ports there. Use a directory of your own (PORTPOOL_LOCK_DIR), or set "
                    "Options::shared_lock_dir if it is meant to be shared",
                    path.string(), status.st_uid, ::geteuid()));
  }
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    throw LockDirError(
        fmt::format("the lock directory {} is writable by group or others (mode {:04o}): another user could hold "
                    "or block your ports there. Run 'chmod 700 {}', or set Options::shared_lock_dir if it is meant "
                    "to be shared",
                    path.string(), status.st_mode & 07777U, path.string()));
  }
}

/// Opens (creating it when `create`) and checks the lock directory. Returns null when it does
/// not exist and `create` is false: nothing was ever locked there.
inline std::shared_ptr<const LockDirectory> open_lock_dir(const std::filesystem::path& configured, bool shared,
                                                          bool create) {
  auto directory = std::make_shared<LockDirectory>();
  directory->path = resolve_lock_dir(configured);
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
  return directory;
}

}  // namespace portpool::detail
