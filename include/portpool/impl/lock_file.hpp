#pragma once

// Taking, testing and giving back one lock file.
//
// The lock is a Linux open-file-description lock (F_OFD_SETLK) on the whole file. Unlike the
// classic fcntl lock it belongs to the open file, not to the process: a second open of the same
// file conflicts with it even inside the holding process, and closing another descriptor of the
// file (a reader's, another copy of this library's in a plugin) never drops it. So exclusivity
// needs no process-wide table, and two copies of the library in one process exclude each other
// like two processes do. OFD locks and classic locks conflict both ways, so a program holding a
// boost::interprocess::file_lock on a lock file excludes portpool and is excluded by it.
//
// What an OFD lock does not tell is who holds it (F_OFD_GETLK reports pid -1), so the holder
// writes a record into the locked file (impl/record.hpp) and readers trust a record only while
// the file is locked; the lock, never the pid, says whether the port is held. The holder locks a
// range whose length names its user (detail/lock_range.hpp); in a shared directory, where every
// member can rewrite a lock file's record, it also writes its record into a file of its own
// (impl/record_file.hpp), and readers believe that one.
//
// Lock files are opened with O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK relative to the lock directory's
// descriptor, must be regular files with exactly one name (a hard link would let two names
// guard one port), and in a private directory must belong to this user. Anything else at a lock
// file's name refuses that port with the reason; the next port is tried.
//
// portpool never deletes lock files, but other programs may. After every successful lock the
// path must still name the locked inode; otherwise two processes could each hold "the" lock on
// two different files of the same name, and the attempt starts over on the new file.
//
// A manager keeps the lock files its holds released open and unlocked for its next holds of those
// ports (lock_file_cache.hpp): locking a kept file again is checked the same way, through the name.

#include <portpool/detail/lock_range.hpp>
#include <portpool/detail/message.hpp>
#include <portpool/detail/process_id.hpp>
#include <portpool/detail/system_error.hpp>
#include <portpool/detail/test_hook.hpp>
#include <portpool/error.hpp>
#include <portpool/fencing_token.hpp>
#include <portpool/holder.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/lock_file_cache.hpp>
#include <portpool/impl/record.hpp>
#include <portpool/impl/record_file.hpp>
#include <portpool/refusal.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>

namespace portpool::detail {

[[noreturn]] inline void throw_resource_error(const std::string& what, int error) {
  throw ResourceError(format_message(
      "{}: {}; release some descriptors or raise the limit ('ulimit -n'), then try again", {what, errno_text(error)}));
}

class HeldLock {
 public:
  /// `fork_generation` was read before `file` was opened; a release gives the file to `cache`
  /// (when it still exists) rather than closing it, unless a fork or a caller may share it.
  HeldLock(std::shared_ptr<const LockDirectory> directory, std::string lock_name, UniqueFd file,
           const struct stat& status, Holder holder, std::weak_ptr<LockFileCache> cache = {},
           std::uint64_t fork_generation = 0)
      : directory_(std::move(directory)),
        lock_name_(std::move(lock_name)),
        file_(std::move(file)),
        device_(status.st_dev),
        inode_(status.st_ino),
        holder_(std::move(holder)),
        cache_(std::move(cache)),
        fork_generation_(fork_generation) {}
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;
  HeldLock(HeldLock&&) = delete;
  HeldLock& operator=(HeldLock&&) = delete;
  ~HeldLock() { release(); }

  /// Writes the holder record into the lock file (and, in a shared directory, first into this
  /// user's own record file), making the hold visible to Registry.
  /// @throws LockDirError when a file cannot take it; ResourceError when no descriptor is left.
  void publish() {
    write_records();
    published_ = true;
    reached_step("recorded");
  }

  /// The fencing token a fleet lock policy set for this hold, if any.
  const std::optional<FencingToken>& fencing_token() const noexcept { return fencing_token_; }

  /// Sets the fencing token of this hold (a fleet lock policy, before the lease is handed out).
  void set_fencing_token(FencingToken token) { fencing_token_ = std::move(token); }

  /// Records a new readiness (rewrites the record when it was published).
  void set_readiness(Readiness readiness) {
    holder_.readiness = readiness;
    if (published_) {
      write_records();
    }
  }

  /// Sets one metadata entry of the description (rewrites the record when it was published).
  /// @throws ConfigError when the description would break its limits (nothing changes then),
  /// LockDirError when the record cannot be written.
  void set_metadata(const std::string& key, std::string value) {
    auto description = holder_.description;
    description.metadata[key] = std::move(value);
    validate_description(description);
    holder_.description = std::move(description);
    if (published_) {
      write_records();
    }
  }

  /// Retires the record (and removes the own record file), then drops the lock: unlocks the file and keeps it open in
  /// the cache for the next hold of the port, or closes it (no cache, a fork during the hold, the descriptor handed
  /// out). The record is spoilt (its first byte overwritten) so that, until the next holder writes its own, nobody
  /// reads the old one as the new holder's; a holder that dies without releasing leaves its record in an unlocked file,
  /// which readers ignore. In a forked child the descriptor is a copy of the parent's open file: closing it leaves the
  /// parent's lock and record alone. Then runs the after-release action, if any. Returns whether the hold was this
  /// process's.
  bool release() noexcept {
    if (!file_) {
      return false;
    }
    const bool mine = holder_.pid == current_process_id();
    if (mine && published_) {
      retire_record(file_.get());
    }
    if (own_record_) {
      if (mine) {
        ::unlinkat(directory_->fd.get(), own_record_name_.c_str(), 0);
      }
      own_record_.reset();
    }
    reached_step("releasing");
    if (!mine) {
      file_.reset();
      return false;
    }
    keep_or_close();
    if (auto action = std::exchange(after_release_, nullptr)) {
      action();
    }
    return true;
  }

  /// Runs `action` once, right after the lock is dropped, in the process that took the lock. A lock
  /// policy that holds more than the lock file (a fleet-wide claim in etcd) gives it back there.
  /// `action` must not throw.
  void call_after_release(std::function<void()> action) { after_release_ = std::move(action); }

  /// False in a forked child: the lock belongs to the process that took it.
  bool held() const noexcept { return file_ && holder_.pid == current_process_id(); }
  const Holder& holder() const noexcept { return holder_; }
  const std::shared_ptr<const LockDirectory>& directory() const noexcept { return directory_; }
  const std::string& lock_name() const noexcept { return lock_name_; }
  std::string path() const { return (directory_->path / lock_name_).string(); }
  int descriptor() const noexcept { return file_.get(); }
  /// The descriptor, for a caller that may duplicate it or pass it on: the release then closes it
  /// (the lock lives while any copy is open) rather than unlocking it.
  int shared_descriptor() const noexcept {
    handed_out_.store(true);
    return file_.get();
  }
  dev_t device() const noexcept { return device_; }
  ino_t inode() const noexcept { return inode_; }

 private:
  // The own record file first: a reader woken by the lock file's change then finds it.
  void write_records() {
    if (directory_->shared) {
      write_own_record();
    }
    write_record_into(file_.get(), lock_name_);
  }

  void write_own_record() {
    if (!own_record_) {
      own_record_name_ = record_file_name(lock_name_, directory_->user);
      auto opened = open_own_record_file(*directory_, own_record_name_);
      if (opened.error != 0) {
        record_failure(own_record_name_, opened.error);
      }
      own_record_ = std::move(opened.file);
      if (!own_record_) {
        return;  // something of another user's stands at its name: readers show the hold as unverified
      }
    }
    write_record_into(own_record_.get(), own_record_name_);
  }

  // `name`: the file's name in the lock directory, spelled out as a path only in an error.
  void write_record_into(int file, const std::string& name) {
    if (int error = write_record(file, holder_); error != 0) {
      record_failure(name, error);
    }
  }

  [[noreturn]] void record_failure(const std::string& name, int error) const {
    auto file_path = (directory_->path / name).string();
    if (is_resource_error(error)) {
      throw_resource_error(format_message("cannot write the holder record into {}", {file_path}), error);
    }
    throw LockDirError(
        format_message("cannot write the holder record into {}: {}; make room on its filesystem or "
                       "choose another lock directory with PORTPOOL_LOCK_DIR",
                       {file_path, errno_text(error)}));
  }

  // Unlocks the file and leaves it open in the cache when only this hold can use its open file;
  // closes it otherwise (which drops the lock unless a copy lives on).
  void keep_or_close() noexcept {
    auto cache = cache_.lock();
    if (!cache || handed_out_.load() || fork_generation_ != fork_generation()) {
      file_.reset();
      return;
    }
    auto unlock = whole_file_lock(F_UNLCK);
    std::unique_ptr<KeptLockFile> kept(new (std::nothrow) KeptLockFile);
    if (!kept || ::fcntl(file_.get(), F_OFD_SETLK, &unlock) != 0) {
      file_.reset();
      return;
    }
    kept->file = std::move(file_);
    kept->directory = directory_;
    kept->port = holder_.port;
    kept->device = device_;
    kept->inode = inode_;
    kept->fork_generation = fork_generation_;
    cache->keep(std::move(kept));
  }

  std::shared_ptr<const LockDirectory> directory_;
  std::string lock_name_;
  UniqueFd file_;
  dev_t device_;
  ino_t inode_;
  Holder holder_;
  std::weak_ptr<LockFileCache> cache_;
  std::uint64_t fork_generation_;
  mutable std::atomic<bool> handed_out_{false};
  std::optional<FencingToken> fencing_token_;
  UniqueFd own_record_;
  std::string own_record_name_;
  bool published_ = false;
  std::function<void()> after_release_;
};

/// The outcome of one attempt: a held lock, or why not (the words and the holder's record are
/// empty unless asked for; the reason is always given).
struct LockAttempt {
  std::unique_ptr<HeldLock> lock;
  std::string refusal;
  RefusalReason reason = RefusalReason::held;
  std::optional<Holder> holder;
  /// No lock: the directory's path no longer names the directory (renamed, replaced, deleted); open
  /// the path again and retry there (see CurrentLockDirectory).
  bool directory_moved = false;
};

/// Whether the process `pid` exists in this pid namespace.
inline bool process_alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

/// The record of the holder of the locked file `fd`. A holder writes its record right after
/// locking, so a locked file without one is given a moment (at most 200 ms, only when a refusal is
/// explained) for the record to appear, so that the explanation can name the holder.
inline std::optional<Holder> record_of_locked(int fd) {
  constexpr int attempts = 40;
  constexpr timespec pause{0, 5'000'000};  // 5 ms
  for (int attempt = 1;; ++attempt) {
    auto record = read_record(fd);
    if (record || attempt == attempts || !is_locked(fd)) {
      return record;
    }
    ::nanosleep(&pause, nullptr);
  }
}

inline std::string describe_holder(const std::optional<Holder>& record, pid_t self) {
  if (!record) {
    return "held by another process";  // between its lock and its record
  }
  auto what = record->service.empty() ? format_message("instance {}", {record->instance})
                                      : format_message("{}, instance {}", {record->service, record->instance});
  if (!record->verified) {
    return format_message(
        "held by another process; its record, which any member of the shared lock directory could have written, "
        "names pid {} ({})",
        {application_pid_of(*record), what});
  }
  if (record->pid == self) {
    return format_message("held by this process ({})", {what});
  }
  if (!process_alive(record->pid)) {
    return format_message(
        "held by another process: the recorded holder, pid {} ({}), is not running here, so a process it started, or "
        "one in another pid namespace, keeps the lock",
        {record->pid, what});
  }
  if (record->application_pid != 0) {
    return format_message("held by pid {} ({}; the lock is its helper's, pid {})",
                          {record->application_pid, what, record->pid});
  }
  return format_message("held by pid {} ({})", {record->pid, what});
}

inline std::string user_text(uid_t uid) { return format_message("uid {}", {uid}); }

/// Why an existing entry at `name` cannot be opened as a lock file, for a refusal of its port.
inline std::string unopenable_entry(const LockDirectory& directory, const std::string& name, int error) {
  auto path = (directory.path / name).string();
  struct stat status {};
  bool known = ::fstatat(directory.fd.get(), name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0;
  if (error == ELOOP || (known && S_ISLNK(status.st_mode))) {
    return format_message("its lock file {} is a symbolic link, which portpool never follows; remove it", {path});
  }
  if (known && S_ISDIR(status.st_mode)) {
    return format_message("a directory stands where its lock file {} should be; remove it", {path});
  }
  if (known && S_ISSOCK(status.st_mode)) {
    return format_message("a socket stands where its lock file {} should be; remove it", {path});
  }
  if ((error == EACCES || error == EPERM) && known) {
    return format_message(
        "its lock file {} belongs to {} and does not let you ({}) open it; ask its owner to remove it, "
        "or use a lock directory of your own",
        {path, user_text(status.st_uid), user_text(::geteuid())});
  }
  return format_message("its lock file {} cannot be opened: {}; remove it", {path, errno_text(error)});
}

/// Creates the lock file `name`, readable and writable by its owner only, or by everyone in a
/// shared directory (whatever the umask: the other users must be able to lock it too).
inline UniqueFd create_lock_file(const LockDirectory& directory, const std::string& name) {
  const mode_t mode = directory.shared ? 0666 : 0600;
  UniqueFd file(::openat(directory.fd.get(), name.c_str(),
                         O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, mode));
  if (file && directory.shared) {
    ::fchmod(file.get(), mode);
  }
  return file;
}

[[noreturn]] inline void throw_create_failure(const LockDirectory& directory, const std::string& name, int error) {
  auto path = (directory.path / name).string();
  if (is_resource_error(error)) {
    throw_resource_error(format_message("cannot create the lock file {}", {path}), error);
  }
  throw LockDirError(format_message(
      "cannot create the lock file {}: {}; check that the lock directory exists, is writable and has room, or "
      "choose another one with PORTPOOL_LOCK_DIR",
      {path, errno_text(error)}));
}

/// Why a locked file cannot guard its port, or nullopt when it can.
/// (Called after every successful lock: the path is only spelled out for a refusal.)
inline std::optional<std::string> unusable_lock_file(const LockDirectory& directory, const std::string& name,
                                                     const struct stat& status) {
  auto path = [&] { return (directory.path / name).string(); };
  if (!S_ISREG(status.st_mode)) {
    return format_message("its lock file {} is not a regular file; remove it", {path()});
  }
  if (status.st_nlink != 1) {
    return format_message(
        "its lock file {} has {} names (hard links), so another name could guard the same port; remove the other "
        "names (find them with 'find {} -samefile {}')",
        {path(), status.st_nlink, directory.path.string(), path()});
  }
  if (!directory.shared && status.st_uid != directory.owner) {
    return format_message("its lock file {} belongs to {}, not to you; remove it", {path(), user_text(status.st_uid)});
  }
  return std::nullopt;
}

/// The status of `name` in `directory` (of the open file `directory` itself when `name` is empty
/// and `flags` has AT_EMPTY_PATH) that a lock needs: type and permissions, links, owner, device
/// and inode, and nothing else. Not asking for the times matters: on file systems with
/// fine-grained timestamps (ext4 and tmpfs since Linux 6.13) a time that has been read makes the
/// next write stamp a new one, and the record written after every lock would then dirty the
/// inode each time (a journal transaction on ext4).
inline bool lock_file_status(int directory, const char* name, int flags, struct stat& status) {
  struct statx extended {};
  if (::statx(directory, name, flags, STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_INO, &extended) != 0) {
    return false;
  }
  status = {};
  status.st_dev = makedev(extended.stx_dev_major, extended.stx_dev_minor);
  status.st_ino = extended.stx_ino;
  status.st_mode = extended.stx_mode;
  status.st_nlink = extended.stx_nlink;
  status.st_uid = extended.stx_uid;
  return true;
}

/// Opens the lock file `name` for locking, creating it when missing. An empty descriptor with
/// `refusal` set when something else stands at that name, or with `directory_moved` set when the
/// file cannot be created because the directory was deleted (its path names another or nothing).
/// @throws ResourceError when descriptors or memory run out; LockDirError when the file cannot
/// be created.
inline UniqueFd open_lock_file(const LockDirectory& directory, const std::string& name, std::string& refusal,
                               bool& directory_moved) {
  constexpr int create_races = 4;
  for (int attempt = 0; attempt < create_races; ++attempt) {
    UniqueFd file(::openat(directory.fd.get(), name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (file) {
      return file;
    }
    if (is_resource_error(errno)) {
      throw_resource_error(format_message("cannot open the lock file {}", {(directory.path / name).string()}), errno);
    }
    if (errno != ENOENT) {
      refusal = unopenable_entry(directory, name, errno);
      return {};
    }
    file = create_lock_file(directory, name);
    if (file) {
      return file;
    }
    const int error = errno;
    if (error == ENOENT && !still_named(directory)) {
      directory_moved = true;
      return {};
    }
    if (error != EEXIST) {
      throw_create_failure(directory, name, error);
    }
  }
  refusal = format_message("its lock file {} keeps being created and removed by another program",
                           {(directory.path / name).string()});
  return {};
}

inline LockAttempt moved_directory_attempt(const LockDirectory& directory) {
  return {nullptr, format_message("the lock directory {} was moved, replaced or deleted", {directory.path.string()}),
          RefusalReason::lock_unusable, std::nullopt, true};
}

/// The lock of `lock_name` taken through the descriptor `cache` kept of it, or null when it kept
/// none that serves in `directory` now (the caller then opens the file as usual). A kept file
/// serves when it can be locked and the name, looked up by the directory's path, still names it
/// and it is still fit to guard the port (as try_lock checks after opening); else it is closed.
inline std::unique_ptr<HeldLock> lock_kept_file(const std::shared_ptr<const LockDirectory>& directory,
                                                const std::string& lock_name, const Holder& holder,
                                                const std::shared_ptr<LockFileCache>& cache) {
  auto kept = cache->take(holder.port, directory.get());
  if (!kept) {
    return nullptr;
  }
  reached_step("lock-file-opened");
  auto request = holder_lock(directory->user);
  if (::fcntl(kept->file.get(), F_OFD_SETLK, &request) != 0) {
    return nullptr;  // held, or failing: the usual path says why
  }
  struct stat current {};
  if (!lock_file_status(AT_FDCWD, (directory->absolute_path / lock_name).c_str(), AT_SYMLINK_NOFOLLOW, current) ||
      current.st_dev != kept->device || current.st_ino != kept->inode ||
      unusable_lock_file(*directory, lock_name, current)) {
    return nullptr;  // closing the kept file drops the lock just taken
  }
  reached_step("locked");
  return std::make_unique<HeldLock>(directory, lock_name, std::move(kept->file), current, holder, cache,
                                    kept->fork_generation);
}

/// Tries once, without waiting, to take the lock file `lock_name` for `holder`: through the
/// descriptor `cache` kept of it when that serves, else by opening it; the release leaves the
/// file to `cache` (when given). Without a lock and with `directory_moved` set when the
/// directory's path no longer leads to `directory`.
/// @throws ResourceError when descriptors or memory run out; LockDirError when the file cannot
/// be created; Error when the kernel lacks open-file-description locks (before Linux 3.15).
inline LockAttempt try_lock(const std::shared_ptr<const LockDirectory>& directory, const std::string& lock_name,
                            const Holder& holder, bool explain, const std::shared_ptr<LockFileCache>& cache = nullptr) {
  if (cache) {
    if (auto lock = lock_kept_file(directory, lock_name, holder, cache)) {
      return {std::move(lock), {}, RefusalReason::held, std::nullopt};
    }
  }
  constexpr int replaced_retries = 8;
  for (int attempt = 0; attempt < replaced_retries; ++attempt) {
    const auto generation = fork_generation();  // before the open: a fork after it changes the number
    std::string refusal;
    bool directory_moved = false;
    auto file = open_lock_file(*directory, lock_name, refusal, directory_moved);
    if (directory_moved) {
      return moved_directory_attempt(*directory);
    }
    if (!file) {
      return {nullptr, std::move(refusal), RefusalReason::lock_unusable, std::nullopt};
    }
    reached_step("lock-file-opened");
    auto request = holder_lock(directory->user);
    if (::fcntl(file.get(), F_OFD_SETLK, &request) != 0) {
      auto error = errno;
      if (error == EAGAIN || error == EACCES) {
        if (!explain) {
          return {nullptr, {}, RefusalReason::held, std::nullopt};
        }
        auto record = vouched_record(*directory, lock_name, file.get(), record_of_locked(file.get()));
        auto why = describe_holder(record, holder.pid);
        return {nullptr, std::move(why), RefusalReason::held, std::move(record)};
      }
      if (is_resource_error(error)) {
        throw_resource_error(format_message("cannot lock {}", {(directory->path / lock_name).string()}), error);
      }
      struct stat status {};
      if (::fstat(file.get(), &status) == 0 && !S_ISREG(status.st_mode)) {
        return {nullptr, *unusable_lock_file(*directory, lock_name, status), RefusalReason::lock_unusable,
                std::nullopt};
      }
      throw Error(format_message("cannot lock {}: {}; portpool needs open-file-description locks (Linux 3.15 or later)",
                                 {(directory->path / lock_name).string(), errno_text(error)}));
    }
    struct stat locked {};
    if (!lock_file_status(file.get(), "", AT_EMPTY_PATH, locked)) {
      throw Error(format_message("cannot inspect {}: {}", {(directory->path / lock_name).string(), last_error_text()}));
    }
    if (auto problem = unusable_lock_file(*directory, lock_name, locked)) {
      // closing the file drops the lock just taken
      return {nullptr, std::move(*problem), RefusalReason::lock_unusable, std::nullopt};
    }
    // Looked up by the directory's path, as another process finds the file: naming the locked inode
    // shows that the path still leads to this directory too (the file has one name).
    struct stat current {};
    if (lock_file_status(AT_FDCWD, (directory->absolute_path / lock_name).c_str(), AT_SYMLINK_NOFOLLOW, current) &&
        current.st_dev == locked.st_dev && current.st_ino == locked.st_ino) {
      reached_step("locked");
      return {std::make_unique<HeldLock>(directory, lock_name, std::move(file), locked, holder, cache, generation),
              {},
              RefusalReason::held,
              std::nullopt};
    }
    if (!still_named(*directory)) {
      return moved_directory_attempt(*directory);
    }
  }
  return {nullptr,
          format_message("its lock file {} keeps being replaced by another program",
                         {(directory->path / lock_name).string()}),
          RefusalReason::lock_unusable, std::nullopt};
}

/// try_lock() in the directory `directory` names now (with the kept descriptors of `cache`): when the path no longer
/// names the directory it had opened, the path is opened again (see CurrentLockDirectory) and the lock tried there.
/// @throws as try_lock(), and LockDirError when what the path names now cannot be used.
inline LockAttempt try_lock_where_named(CurrentLockDirectory& directory, const std::string& lock_name,
                                        const Holder& holder, bool explain,
                                        const std::shared_ptr<LockFileCache>& cache = nullptr) {
  constexpr int moved_retries = 8;
  auto opened = directory.get();
  auto attempt = detail::try_lock(opened, lock_name, holder, explain, cache);
  for (int retry = 0; attempt.directory_moved && retry < moved_retries; ++retry) {
    opened = directory.reopen(opened);
    attempt = detail::try_lock(opened, lock_name, holder, explain, cache);
  }
  if (attempt.directory_moved) {
    attempt.refusal =
        format_message("the lock directory {} keeps being moved by another program", {directory.path().string()});
  }
  return attempt;
}

/// The holder recorded in the lock file `lock_name` while it is locked, or nullopt when nobody
/// holds it (or its holder has not recorded itself yet). Never disturbs any lock, the calling
/// process's own included.
inline std::optional<Holder> recorded_holder(const LockDirectory& directory, const std::string& lock_name) {
  UniqueFd file(::openat(directory.fd.get(), lock_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!file || !is_locked(file.get())) {
    return std::nullopt;
  }
  // The recorded process may have exited while the lock lives on: a child that inherited the lock
  // file's descriptor (as `portpool run` passes it to the command's process tree) keeps the hold.
  return vouched_record(directory, lock_name, file.get(), read_record(file.get()));
}

}  // namespace portpool::detail
