#pragma once

/// @file
/// RegistryWatcher: the changes of the local service registry, as they happen (inotify).

#include <portpool/detail/config.hpp>
#include <portpool/holder.hpp>
#include <portpool/options.hpp>
#include <portpool/unique_fd.hpp>

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace portpool {

namespace detail {
struct LockDirectory;
}  // namespace detail

/// One change of the registry.
struct RegistryChange {
  /// What happened to the port.
  enum class Kind {
    acquired,  ///< a holder took the port
    released,  ///< the holder gave the port back
    lost,      ///< the holder's hold ended without a release: `reason` says how
    changed,   ///< the same holder rewrote its record (readiness)
  };
  Kind kind;  ///< what happened
  /// The holder concerned (for released and lost: the holder that was).
  Holder holder;
  std::string reason;  ///< for `lost`: how the hold ended, in words for people; empty otherwise
};

/// "acquired", "released", "lost" or "changed".
const char* to_string(RegistryChange::Kind kind) noexcept;

/// Follows the lock directory with inotify and turns what happens in it into registry changes.
///
/// Not a thread and not a loop: wait until `descriptor()` is readable (poll(), epoll, or an Asio
/// `posix::stream_descriptor`), then call `read_changes()`, which never blocks. Each change of
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
///
/// With Asio, wait on the watcher's own descriptor, no duplicate needed; give it back with
/// `release()` (which also cancels the wait) before the watcher is destroyed, so that only the
/// watcher closes it:
///
/// @code
/// boost::asio::posix::stream_descriptor changes(io, watcher.descriptor());
/// changes.async_wait(boost::asio::posix::stream_descriptor::wait_read, [&](auto error) {
///   if (!error) for (const auto& change : watcher.read_changes()) show(change);  // then wait again
/// });
/// // ... when done:
/// changes.release();
/// @endcode
///
/// Thread safety: one watcher is used by one thread at a time (distinct watchers are independent).
class RegistryWatcher {
 public:
  /// Watches `options.lock_dir` (created when missing), honouring `options.shared_lock_dir`.
  /// @throws LockDirError when the directory is unsafe; ResourceError when no inotify instance or
  /// watch can be had (see /proc/sys/fs/inotify).
  explicit RegistryWatcher(const Options& options);

  /// The holders as last read, sorted by port.
  std::vector<Holder> holders() const;

  /// Becomes readable when the lock directory has changed. Non-blocking (`O_NONBLOCK`) and
  /// owned by the watcher: wait on it, do not read or close it.
  int descriptor() const noexcept { return inotify_.get(); }

  /// The lock directory watched.
  const std::filesystem::path& lock_dir() const noexcept;

  /// Reads the pending inotify events and returns the changes they reveal (possibly none).
  /// Never blocks: with nothing pending it returns at once, empty.
  /// @throws LockDirError when the kernel dropped events (its queue overflowed) and the lock
  /// directory, read again in full, cannot be read.
  std::vector<RegistryChange> read_changes();

 private:
  struct Identity {
    dev_t device = 0;
    ino_t inode = 0;
  };

  struct Known {
    Holder holder;
    Identity file;
  };

  Options options_of_directory() const;
  std::optional<Identity> identity_of(std::uint16_t port) const;
  RegistryChange ending(const Known& previous, std::uint16_t port, const std::optional<Identity>& file) const;
  void update(std::uint16_t port, std::vector<RegistryChange>& changes);

  std::shared_ptr<const detail::LockDirectory> directory_;
  UniqueFd inotify_;
  std::map<std::uint16_t, Known> known_;
};

}  // namespace portpool

#if !defined(PORTPOOL_SEPARATE_COMPILATION)
#include <portpool/impl/registry_watcher.ipp>
#endif
