#pragma once

/// @file
/// RegistryWatcher: the changes of the local service registry, as they happen (inotify).

#include <portpool/detail/names.hpp>
#include <portpool/detail/parse_number.hpp>
#include <portpool/detail/system_error.hpp>
#include <portpool/error.hpp>
#include <portpool/holder.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/options.hpp>
#include <portpool/registry.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace portpool {

/// One change of the registry.
struct RegistryChange {
  enum class Kind {
    acquired,  ///< a holder took the port
    released,  ///< the holder gave the port back
    lost,      ///< the holder's hold ended without a release: `reason` says how
    changed,   ///< the same holder rewrote its record (readiness)
  };
  Kind kind;
  /// The holder concerned (for released and lost: the holder that was).
  Holder holder;
  std::string reason;
};

/// "acquired", "released", "lost" or "changed".
inline const char* to_string(RegistryChange::Kind kind) noexcept {
  switch (kind) {
    case RegistryChange::Kind::acquired:
      return "acquired";
    case RegistryChange::Kind::released:
      return "released";
    case RegistryChange::Kind::lost:
      return "lost";
    case RegistryChange::Kind::changed:
      break;
  }
  return "changed";
}

/// Follows the lock directory with inotify and turns what happens in it into registry changes.
///
/// Not a thread and not a loop: wait until `descriptor()` is readable (poll(), or an Asio
/// `posix::stream_descriptor` on a duplicate of it), then call `read_changes()`. Each change of
/// a holder record is reported once, in the order the records changed; a holder record that is
/// rewritten faster than it is read may fold several changes into one. Only the files named by
/// the events are read again, so following a large registry costs little.
///
/// @code
/// portpool::RegistryWatcher watcher(options);
/// for (const auto& holder : watcher.holders()) show(holder);
/// pollfd ready{watcher.descriptor(), POLLIN, 0};
/// while (::poll(&ready, 1, -1) > 0)
///   for (const auto& change : watcher.read_changes()) show(change);
/// @endcode
class RegistryWatcher {
 public:
  /// Watches `options.lock_dir` (created when missing), honouring `options.shared_lock_dir`.
  /// @throws LockDirError when the directory is unsafe; ResourceError when no inotify instance or
  /// watch can be had (see /proc/sys/fs/inotify).
  explicit RegistryWatcher(const Options& options)
      : directory_(detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, true)),
        inotify_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (!inotify_) {
      throw_inotify_failure("cannot create an inotify instance");
    }
    // Through the opened directory, not its path: the watch is on the directory that was checked.
    auto watched = fmt::format("/proc/self/fd/{}", directory_->fd.get());
    if (::inotify_add_watch(inotify_.get(), watched.c_str(), watch_mask) < 0) {
      throw_inotify_failure(fmt::format("cannot watch the lock directory {}", directory_->path.string()));
    }
    for (auto& holder : Registry::holders(options)) {
      auto port = holder.port;
      known_.emplace(port, Known{std::move(holder), identity_of(port).value_or(Identity{})});
    }
  }

  /// The holders as last read, sorted by port.
  std::vector<Holder> holders() const {
    std::vector<Holder> list;
    list.reserve(known_.size());
    for (const auto& [port, known] : known_) {
      list.push_back(known.holder);
    }
    return list;
  }

  /// Becomes readable when the lock directory has changed; non-blocking.
  int descriptor() const noexcept { return inotify_.get(); }

  const std::filesystem::path& lock_dir() const noexcept { return directory_->path; }

  /// Reads the pending inotify events and returns the changes they reveal (possibly none).
  std::vector<RegistryChange> read_changes() {
    std::vector<std::uint16_t> touched;
    bool overflow = false;
    alignas(inotify_event) std::array<char, 16384> buffer{};
    while (true) {
      auto count = ::read(inotify_.get(), buffer.data(), buffer.size());
      if (count <= 0) {
        break;  // EAGAIN: all read
      }
      for (std::size_t offset = 0; offset < static_cast<std::size_t>(count);) {
        inotify_event event{};
        std::memcpy(&event, buffer.data() + offset, sizeof event);
        std::string_view name(buffer.data() + offset + sizeof event, event.len);
        name = name.substr(0, name.find('\0'));
        overflow = overflow || (event.mask & IN_Q_OVERFLOW) != 0;
        if (auto port = detail::port_of_lock_name(name);
            port && std::find(touched.begin(), touched.end(), *port) == touched.end()) {
          touched.push_back(*port);
        }
        offset += sizeof event + event.len;
      }
    }
    if (overflow) {
      touched.clear();  // events were dropped: look at every port ever known or present
      for (const auto& [port, known] : known_) {
        touched.push_back(port);
      }
      for (const auto& holder : Registry::holders(options_of_directory())) {
        if (known_.count(holder.port) == 0) {
          touched.push_back(holder.port);
        }
      }
    }
    std::vector<RegistryChange> changes;
    for (auto port : touched) {
      update(port, changes);
    }
    return changes;
  }

 private:
  static constexpr std::uint32_t watch_mask =
      IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR;

  struct Identity {
    dev_t device = 0;
    ino_t inode = 0;
  };

  struct Known {
    Holder holder;
    Identity file;
  };

  [[noreturn]] static void throw_inotify_failure(const std::string& what) {
    throw ResourceError(fmt::format("{}: {}; raise fs.inotify.max_user_instances or max_user_watches (sysctl)", what,
                                    detail::last_error_text()));
  }

  Options options_of_directory() const {
    Options options;
    options.lock_dir = directory_->path;
    options.shared_lock_dir = directory_->shared;
    return options;
  }

  std::optional<Identity> identity_of(std::uint16_t port) const {
    struct stat status {};
    if (::fstatat(directory_->fd.get(), detail::port_lock_name(port).c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) {
      return std::nullopt;
    }
    return Identity{status.st_dev, status.st_ino};
  }

  static bool same_hold(const Holder& left, const Holder& right) {
    return left.pid == right.pid && left.since == right.since && left.instance_id == right.instance_id &&
           left.service == right.service;
  }

  // What the lock file of a hold that ended says about how it ended. A release spoils the
  // record's first byte (see detail::retire_record); a holder that died leaves its record whole,
  // with its dead (or zombie) pid; a new holder may already have written its own.
  RegistryChange ending(const Known& previous, std::uint16_t port, const std::optional<Identity>& file) const {
    const auto& holder = previous.holder;
    if (!file || file->device != previous.file.device || file->inode != previous.file.inode) {
      return {RegistryChange::Kind::lost, holder,
              fmt::format("its lock file {} was deleted or replaced", detail::port_lock_name(port))};
    }
    UniqueFd lock_file(::openat(directory_->fd.get(), detail::port_lock_name(port).c_str(),
                                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    std::array<char, detail::record_magic.size()> start{};
    if (lock_file && ::pread(lock_file.get(), start.data(), start.size(), 0) == static_cast<ssize_t>(start.size()) &&
        start[0] == 'x' && std::string_view(start.data() + 1, start.size() - 1) == detail::record_magic.substr(1)) {
      return {RegistryChange::Kind::released, holder, {}};
    }
    auto record = lock_file ? detail::read_record(lock_file.get()) : std::nullopt;
    const bool left_whole = record && same_hold(*record, holder);
    if (!left_whole && detail::process_alive(holder.pid)) {
      return {RegistryChange::Kind::released, holder, {}};
    }
    return {RegistryChange::Kind::lost, holder,
            fmt::format("its holder (pid {}) ended without releasing it (killed or crashed)", holder.pid)};
  }

  void update(std::uint16_t port, std::vector<RegistryChange>& changes) {
    auto current = detail::recorded_holder(*directory_, detail::port_lock_name(port));
    if (current && current->port != port) {
      current.reset();  // a forged record
    }
    auto file = identity_of(port);
    auto previous = known_.find(port);
    if (previous != known_.end()) {
      if (current && same_hold(previous->second.holder, *current)) {
        if (current->readiness != previous->second.holder.readiness ||
            current->description != previous->second.holder.description) {
          previous->second.holder = *current;
          changes.push_back({RegistryChange::Kind::changed, *current, {}});
        }
        return;
      }
      changes.push_back(ending(previous->second, port, file));
      known_.erase(previous);
    }
    if (current && file) {
      changes.push_back({RegistryChange::Kind::acquired, *current, {}});
      known_.emplace(port, Known{std::move(*current), *file});
    }
  }

  std::shared_ptr<const detail::LockDirectory> directory_;
  UniqueFd inotify_;
  std::map<std::uint16_t, Known> known_;
};

}  // namespace portpool
