#pragma once

// The bodies of RegistryWatcher (included at the end of registry_watcher.hpp, or by
// <portpool/src.hpp> under PORTPOOL_SEPARATE_COMPILATION). The watch is on the opened lock
// directory, and each inotify event names one lock file: only that file's record is read again, and
// how a hold ended is told from what its holder left in the file.

#include <portpool/detail/names.hpp>
#include <portpool/detail/system_error.hpp>
#include <portpool/error.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/impl/record.hpp>
#include <portpool/registry.hpp>

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>
#include <utility>

namespace portpool {

namespace detail {

inline constexpr std::uint32_t registry_watch_mask =
    IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_ONLYDIR;

[[noreturn]] inline void throw_inotify_failure(const std::string& what) {
  throw ResourceError(
      fmt::format("{}: {}; raise fs.inotify.max_user_instances or max_user_watches (sysctl)", what, last_error_text()));
}

// Whether two records describe one hold: the readiness and description may change during a hold.
inline bool same_hold(const Holder& left, const Holder& right) {
  return left.pid == right.pid && left.since == right.since && left.instance_id == right.instance_id &&
         left.service == right.service;
}

}  // namespace detail

PORTPOOL_DECL const char* to_string(RegistryChange::Kind kind) noexcept {
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

PORTPOOL_DECL RegistryWatcher::RegistryWatcher(const Options& options)
    : directory_(detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, true)),
      inotify_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
  if (!inotify_) {
    detail::throw_inotify_failure("cannot create an inotify instance");
  }
  // Through the opened directory, not its path: the watch is on the directory that was checked.
  auto watched = fmt::format("/proc/self/fd/{}", directory_->fd.get());
  if (::inotify_add_watch(inotify_.get(), watched.c_str(), detail::registry_watch_mask) < 0) {
    detail::throw_inotify_failure(fmt::format("cannot watch the lock directory {}", directory_->path.string()));
  }
  for (auto& holder : Registry::holders(options)) {
    auto port = holder.port;
    known_.emplace(port, Known{std::move(holder), identity_of(port).value_or(Identity{})});
  }
}

PORTPOOL_DECL std::vector<Holder> RegistryWatcher::holders() const {
  std::vector<Holder> list;
  list.reserve(known_.size());
  for (const auto& [port, known] : known_) {
    list.push_back(known.holder);
  }
  return list;
}

PORTPOOL_DECL const std::filesystem::path& RegistryWatcher::lock_dir() const noexcept { return directory_->path; }

PORTPOOL_DECL std::vector<RegistryChange> RegistryWatcher::read_changes() {
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
      // A holder's own record file (shared directories) says as much about its port as the lock file.
      auto port = detail::port_of_lock_name(name);
      if (!port) {
        port = detail::port_of_record_file_name(name);
      }
      if (port && std::find(touched.begin(), touched.end(), *port) == touched.end()) {
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

PORTPOOL_DECL Options RegistryWatcher::options_of_directory() const {
  Options options;
  options.lock_dir = directory_->path;
  options.shared_lock_dir = directory_->shared;
  return options;
}

PORTPOOL_DECL std::optional<RegistryWatcher::Identity> RegistryWatcher::identity_of(std::uint16_t port) const {
  struct stat status {};
  if (::fstatat(directory_->fd.get(), detail::port_lock_name(port).c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) {
    return std::nullopt;
  }
  return Identity{status.st_dev, status.st_ino};
}

// What the lock file of a hold that ended says about how it ended. A release spoils the record's
// first byte (see detail::retire_record); a holder that died leaves its record whole, with its dead
// (or zombie) pid; a new holder may already have written its own.
PORTPOOL_DECL RegistryChange RegistryWatcher::ending(const Known& previous, std::uint16_t port,
                                                     const std::optional<Identity>& file) const {
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
  const bool left_whole = record && detail::same_hold(*record, holder);
  if (!left_whole && detail::process_alive(holder.pid)) {
    return {RegistryChange::Kind::released, holder, {}};
  }
  return {RegistryChange::Kind::lost, holder,
          fmt::format("its holder (pid {}) ended without releasing it (killed or crashed)", holder.pid)};
}

PORTPOOL_DECL void RegistryWatcher::update(std::uint16_t port, std::vector<RegistryChange>& changes) {
  auto current = detail::recorded_holder(*directory_, detail::port_lock_name(port));
  if (current && current->port != port) {
    current.reset();  // a forged record
  }
  auto file = identity_of(port);
  auto previous = known_.find(port);
  if (previous != known_.end()) {
    if (current && detail::same_hold(previous->second.holder, *current)) {
      if (current->readiness != previous->second.holder.readiness ||
          current->description != previous->second.holder.description ||
          current->verified != previous->second.holder.verified) {
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

}  // namespace portpool
