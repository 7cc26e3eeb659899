#pragma once

// Waiting for a lock file to be let go: an inotify watch on the lock directory that wakes on the
// events a release causes to the lock files of a pool, and a look at which of them are locked.
//
// A holder's lock is an open-file-description lock on a file it opened read-write. A holder that
// dies loses it with the last close of that open file (the kernel closes a dead process's files),
// which inotify reports as IN_CLOSE_WRITE. A release retires the holder's record (a write,
// IN_MODIFY) and then either closes the file (IN_CLOSE_WRITE) or unlocks it and keeps it open for
// the manager's next hold (no further event: see lock_file_cache.hpp). A lock file deleted,
// renamed or created, or its metadata changed, is reported too. Both events come a moment before
// the lock goes (the kernel reports a close before it drops the lock: fsnotify_close() precedes
// locks_remove_file() in __fput(); the unlock follows the write), so a waiter that finds the file
// still locked after either looks again a few times, shortly after (see `settle_delays`).
//
// Events are only hints: which files are locked is read from the files themselves (F_OFD_GETLK
// through a read-only descriptor, whose close inotify does not report here), and the caller then
// tries to take the port. A lock attempt opens the file read-write, so every attempt, the
// waiter's own included, causes IN_CLOSE_WRITE events: a caller discards the events of its own
// attempt and then looks at the files, so a release during the attempt is not lost.
//
// Without inotify (no instance or watch to be had, or the watch removed with its directory) the
// watch is inert: wait_for() only times out, and the caller falls back to re-checking.

#include <portpool/detail/test_hook.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portpool::detail {

class LockFileWatch {
 public:
  /// What ended a wait.
  enum class Wake {
    timeout,  ///< nothing about the watched files
    closed,   ///< a watched lock file was written or closed after a write (a release, a record, a failed attempt)
    changed,  ///< a watched lock file was created, deleted, renamed or changed, or the directory was
  };

  /// After a write or close that left the file locked, how long to wait before each further look: about a
  /// second in all, as on a loaded machine the closing process can be scheduled out between the
  /// close and the unlock.
  static constexpr std::array<std::chrono::milliseconds, 6> settle_delays{
      std::chrono::milliseconds(1),  std::chrono::milliseconds(4),   std::chrono::milliseconds(16),
      std::chrono::milliseconds(64), std::chrono::milliseconds(256), std::chrono::milliseconds(1000)};

  /// Watches the lock files `names` of `directory`. Never throws for want of inotify or
  /// descriptors: the watch is then inert (watching() is false).
  LockFileWatch(const std::filesystem::path& directory, std::vector<std::string> names)
      : directory_(::open(directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)), names_(std::move(names)) {
    if (!directory_ || !inotify_enabled()) {
      return;
    }
    inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    if (inotify_ && ::inotify_add_watch(inotify_.get(), directory.c_str(), watch_mask) < 0) {
      inotify_.reset();
    }
  }

  /// Whether events arrive; false once the directory itself is gone or inotify could not be had.
  bool watching() const noexcept { return static_cast<bool>(inotify_); }

  /// Drops the events queued so far.
  void discard_events() {
    if (!inotify_) {
      return;
    }
    while (::read(inotify_.get(), buffer_.data(), buffer_.size()) > 0) {
    }
  }

  /// Whether some open file holds a lock on the watched file `index` now (a missing or unopenable
  /// file is not locked).
  bool locked(std::size_t index) const {
    UniqueFd file(
        directory_ ? ::openat(directory_.get(), names_[index].c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
                   : -1);
    struct flock probe {};
    probe.l_type = F_WRLCK;
    probe.l_whence = SEEK_SET;
    return file && ::fcntl(file.get(), F_OFD_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
  }

  /// For each watched name, in order, whether it is locked now.
  std::vector<bool> locked() const {
    std::vector<bool> states;
    states.reserve(names_.size());
    for (std::size_t index = 0; index < names_.size(); ++index) {
      states.push_back(locked(index));
    }
    return states;
  }

  /// The watched files named by the events of the last wait_for() (all of them after an event
  /// about the directory or a lost event), in the order of the names.
  const std::vector<std::size_t>& touched() const noexcept { return touched_; }

  /// Waits at most `timeout` for an event about a watched file or the directory. Signals do not
  /// end the wait.
  Wake wait_for(std::chrono::nanoseconds timeout) {
    touched_.clear();
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::max(until - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero());
      if (!inotify_) {
        pause(left);
        return Wake::timeout;
      }
      auto seconds = std::chrono::duration_cast<std::chrono::seconds>(left);
      struct timespec wait {};
      wait.tv_sec = static_cast<time_t>(seconds.count());
      wait.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(left - seconds).count());
      struct pollfd ready {
        inotify_.get(), POLLIN, 0
      };
      int count = ::ppoll(&ready, 1, &wait, nullptr);
      if (count < 0 && errno == EINTR) {
        continue;
      }
      if (count <= 0) {
        return Wake::timeout;
      }
      if (auto wake = read_events(); wake != Wake::timeout) {
        return wake;
      }
    }
  }

 private:
  static constexpr std::uint32_t watch_mask = IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_DELETE |
                                              IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

  static void pause(std::chrono::steady_clock::duration length) {
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(length);
    struct timespec wait {};
    wait.tv_sec = static_cast<time_t>(seconds.count());
    wait.tv_nsec = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(length - seconds).count());
    while (::nanosleep(&wait, &wait) != 0 && errno == EINTR) {
    }
  }

  // The strongest wake among the queued events, noting the files they name in touched_; events
  // about other files are dropped.
  Wake read_events() {
    Wake wake = Wake::timeout;
    while (true) {
      auto count = ::read(inotify_.get(), buffer_.data(), buffer_.size());
      if (count <= 0) {
        return wake;
      }
      for (std::size_t offset = 0; offset < static_cast<std::size_t>(count);) {
        inotify_event event{};
        std::memcpy(&event, buffer_.data() + offset, sizeof event);
        std::string_view name(buffer_.data() + offset + sizeof event, event.len);
        name = name.substr(0, name.find('\0'));
        offset += sizeof event + event.len;
        const bool about_directory = name.empty() || (event.mask & IN_Q_OVERFLOW) != 0;
        auto found = std::find(names_.begin(), names_.end(), name);
        if (!about_directory && found == names_.end()) {
          continue;
        }
        touch(about_directory ? names_.size() : static_cast<std::size_t>(found - names_.begin()));
        if ((event.mask & IN_IGNORED) != 0) {
          inotify_.reset();  // the directory is gone: nothing more will come
          return Wake::changed;
        }
        if (!about_directory && (event.mask & (IN_CLOSE_WRITE | IN_MODIFY)) != 0) {
          wake = Wake::closed;  // calls for the looks after a release, whatever else came
        } else if (wake == Wake::timeout) {
          wake = Wake::changed;
        }
      }
    }
  }

  // Notes the file `index` as touched, or every file for names_.size().
  void touch(std::size_t index) {
    if (index == names_.size()) {
      touched_.resize(names_.size());
      for (std::size_t each = 0; each < names_.size(); ++each) {
        touched_[each] = each;
      }
    } else if (std::find(touched_.begin(), touched_.end(), index) == touched_.end()) {
      touched_.push_back(index);
    }
  }

  UniqueFd directory_;
  UniqueFd inotify_;
  std::vector<std::string> names_;
  std::vector<std::size_t> touched_;
  alignas(inotify_event) std::array<char, 4096> buffer_{};
};

}  // namespace portpool::detail
