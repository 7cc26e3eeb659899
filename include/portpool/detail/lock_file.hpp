#pragma once

// Taking, testing and giving back one lock file.
//
// Lock files are opened with O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK relative to the lock directory's
// descriptor and must be regular files, so a planted symlink or FIFO is refused, never followed,
// and no child process inherits them. The fcntl record lock is the same one
// boost::interprocess::file_lock takes, set on this descriptor directly because file_lock opens
// the path itself (following symlinks, without O_CLOEXEC) and hides the descriptor whose inode the
// shield must compare.
//
// portpool never deletes lock files, but other programs may. After every successful lock the path
// must still name the locked inode; otherwise two processes could each hold "the" lock on two
// different files of the same name, and the attempt starts over on the new file.

#include <portpool/detail/lock_directory.hpp>
#include <portpool/detail/process_table.hpp>
#include <portpool/detail/record.hpp>
#include <portpool/detail/system_error.hpp>
#include <portpool/detail/test_hook.hpp>
#include <portpool/detail/unique_fd.hpp>
#include <portpool/error.hpp>
#include <portpool/holder.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace portpool::detail {

class HeldLock {
 public:
  HeldLock(std::shared_ptr<const LockDirectory> directory, LockKey key, std::string record_name, UniqueFd file,
           const struct stat& status, Holder holder)
      : directory_(std::move(directory)),
        key_(std::move(key)),
        record_name_(std::move(record_name)),
        file_(std::move(file)),
        device_(status.st_dev),
        inode_(status.st_ino),
        holder_(std::move(holder)) {}
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;
  HeldLock(HeldLock&&) = delete;
  HeldLock& operator=(HeldLock&&) = delete;
  ~HeldLock() { release(); }

  /// Writes the holder record, making the hold visible to Registry.
  void publish() {
    write_record(*directory_, record_name_, holder_);
    published_ = true;
    reached_step("recorded");
  }

  /// Records a new readiness (rewrites the record when it was published).
  void set_readiness(Readiness readiness) {
    holder_.readiness = readiness;
    if (published_) {
      write_record(*directory_, record_name_, holder_);
    }
  }

  int descriptor() const noexcept { return file_.get(); }

  /// Removes the record, then drops the lock: in that order, so that the record of the next
  /// holder can never be removed by this one. Then runs the after-release action, if any.
  void release() noexcept {
    if (!file_) {
      return;
    }
    if (holder_.pid != ::getpid()) {
      file_.reset();  // a forked child's copy: closing it does not touch the parent's lock
      return;
    }
    {
      auto& table = ProcessTable::instance();
      std::lock_guard guard(table.mutex());
      if (published_) {
        remove_record(*directory_, record_name_);
      }
      reached_step("record-removed");
      file_.reset();
      table.erase(key_);
      reached_step("unlocked");
    }
    if (auto action = std::exchange(after_release_, nullptr)) {
      action();
    }
  }

  /// Runs `action` once, right after the lock is dropped (outside the process table's mutex), in
  /// the process that took the lock. A lock policy that holds more than the lock file (a
  /// fleet-wide claim in etcd) gives it back there. `action` must not throw.
  void call_after_release(std::function<void()> action) { after_release_ = std::move(action); }

  /// False in a forked child: the lock belongs to the process that took it.
  bool held() const noexcept { return file_ && holder_.pid == ::getpid(); }
  const Holder& holder() const noexcept { return holder_; }
  const LockDirectory& directory() const noexcept { return *directory_; }
  const std::string& lock_name() const noexcept { return key_.name; }
  dev_t device() const noexcept { return device_; }
  ino_t inode() const noexcept { return inode_; }

 private:
  std::shared_ptr<const LockDirectory> directory_;
  LockKey key_;
  std::string record_name_;
  UniqueFd file_;
  dev_t device_;
  ino_t inode_;
  Holder holder_;
  bool published_ = false;
  std::function<void()> after_release_;
};

/// The outcome of one attempt: a held lock, or why not (the reason is empty unless asked for).
struct LockAttempt {
  std::unique_ptr<HeldLock> lock;
  std::string refusal;
};

inline std::string describe_other_holder(const LockDirectory& directory, const std::string& record_name, pid_t pid) {
  auto record = read_record(directory, record_name);
  if (record && record->pid == pid && !record->service.empty()) {
    return fmt::format("held by pid {} ({}, instance {})", pid, record->service, record->instance);
  }
  return fmt::format("held by pid {}", pid);
}

[[noreturn]] inline void throw_open_failure(const LockDirectory& directory, const std::string& name, int error) {
  if (error == EMFILE || error == ENFILE) {
    throw Error(
        fmt::format("cannot open the lock file {}: {}; release some descriptors or raise the limit "
                    "('ulimit -n')",
                    (directory.path / name).string(), errno_text(error)));
  }
  throw LockDirError(
      fmt::format("cannot create the lock file {}: {}; check that the lock directory exists "
                  "and is writable, or choose another one with PORTPOOL_LOCK_DIR",
                  (directory.path / name).string(), errno_text(error)));
}

inline std::optional<std::string> unusable_lock_file(const LockDirectory& directory, const std::string& name,
                                                     const struct stat& status) {
  if (!S_ISREG(status.st_mode)) {
    return fmt::format("its lock file {} is not a regular file; remove it", (directory.path / name).string());
  }
  if (!directory.shared && status.st_uid != ::geteuid()) {
    return fmt::format("its lock file {} belongs to uid {}, not to you; remove it", (directory.path / name).string(),
                       status.st_uid);
  }
  return std::nullopt;
}

inline struct flock whole_file_lock() {
  struct flock request {};
  request.l_type = F_WRLCK;
  request.l_whence = SEEK_SET;
  return request;
}

/// Tries once, without waiting, to take the lock file `lock_name` for `holder`.
/// @throws Error when descriptors run out; LockDirError when the file cannot be created.
inline LockAttempt try_lock(const std::shared_ptr<const LockDirectory>& directory, const std::string& lock_name,
                            const std::string& record_name, const Holder& holder, bool explain) {
  auto& table = ProcessTable::instance();
  LockKey key{directory->device, directory->inode, lock_name};
  std::lock_guard guard(table.mutex());
  if (const auto* mine = table.find(key)) {
    return {nullptr, explain ? fmt::format("held by this process ({}, instance {})", mine->service, mine->instance)
                             : std::string{}};
  }
  constexpr int replaced_retries = 8;
  for (int attempt = 0; attempt < replaced_retries; ++attempt) {
    UniqueFd file(
        ::openat(directory->fd.get(), lock_name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600));
    if (!file && errno == ELOOP) {
      return {nullptr, fmt::format("its lock file {} is a symbolic link, which portpool never follows; remove it",
                                   (directory->path / lock_name).string())};
    }
    if (!file) {
      throw_open_failure(*directory, lock_name, errno);
    }
    struct stat locked {};
    if (::fstat(file.get(), &locked) != 0) {
      throw_open_failure(*directory, lock_name, errno);
    }
    if (auto problem = unusable_lock_file(*directory, lock_name, locked)) {
      return {nullptr, *problem};
    }
    reached_step("lock-file-opened");
    auto request = whole_file_lock();
    if (::fcntl(file.get(), F_SETLK, &request) != 0) {
      if (errno != EAGAIN && errno != EACCES) {
        throw Error(fmt::format("cannot lock {}: {}", (directory->path / lock_name).string(), last_error_text()));
      }
      if (!explain) {
        return {};
      }
      auto owner = whole_file_lock();
      ::fcntl(file.get(), F_GETLK, &owner);
      return {nullptr, describe_other_holder(*directory, record_name, owner.l_pid)};
    }
    struct stat current {};
    if (::fstatat(directory->fd.get(), lock_name.c_str(), &current, AT_SYMLINK_NOFOLLOW) == 0 &&
        current.st_dev == locked.st_dev && current.st_ino == locked.st_ino) {
      table.insert(key, holder);
      reached_step("locked");
      return {std::make_unique<HeldLock>(directory, std::move(key), record_name, std::move(file), locked, holder), {}};
    }
  }
  return {nullptr, fmt::format("its lock file {} keeps being replaced by another program",
                               (directory->path / lock_name).string())};
}

/// The pid holding the lock file `lock_name`, or nullopt when nobody does.
inline std::optional<pid_t> lock_holder(const LockDirectory& directory, const std::string& lock_name) {
  auto& table = ProcessTable::instance();
  std::lock_guard guard(table.mutex());
  if (table.find(LockKey{directory.device, directory.inode, lock_name}) != nullptr) {
    return ::getpid();
  }
  UniqueFd file(::openat(directory.fd.get(), lock_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  struct stat status {};
  if (!file || ::fstat(file.get(), &status) != 0 || !S_ISREG(status.st_mode)) {
    return std::nullopt;
  }
  auto owner = whole_file_lock();
  if (::fcntl(file.get(), F_GETLK, &owner) != 0 || owner.l_type == F_UNLCK) {
    return std::nullopt;
  }
  return owner.l_pid;
}

}  // namespace portpool::detail
