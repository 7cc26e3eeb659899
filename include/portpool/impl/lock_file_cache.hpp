#pragma once

// Lock files kept open between holds. A manager that releases a port and takes it again would
// open its lock file and check the open file again (openat, statx): instead, the release unlocks
// the file (F_OFD_SETLK, F_UNLCK) without closing it and leaves the descriptor here, and the next
// attempt on that port locks it again and only checks that the lock file's name, looked up by the
// directory's path, still names the kept file (lock_kept_file in lock_file.hpp).
//
// An OFD lock belongs to the open file description, which a forked child shares with its parent:
// if both locked through copies of one kept descriptor, both would "hold" the port. So an entry
// carries the fork generation (detail/process_id.hpp) read before its descriptor was opened, and
// serves only while that generation is current; any fork changes it in both processes, and a
// release closes the descriptor instead of keeping it when a fork happened during the hold (the
// child's copy keeps the lock then, as a lease documents), or when the lease handed its descriptor
// out (a duplicate may keep the lock the same way). Nothing here takes a mutex (a child
// forked while other threads acquire must be able to acquire): each slot is an atomic pointer,
// taken and filled by exchange, so one entry has one owner at a time and is closed once.

#include <portpool/detail/process_id.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/unique_fd.hpp>

#include <sys/types.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace portpool::detail {

/// An unlocked lock file kept open for the next hold of its port.
struct KeptLockFile {
  UniqueFd file;
  std::shared_ptr<const LockDirectory> directory;  ///< the opened directory the file was found in
  std::uint16_t port = 0;
  dev_t device = 0;
  ino_t inode = 0;
  std::uint64_t fork_generation = 0;  ///< read before the file was opened
};

/// The lock files one FileLockPolicy (and its copies) keeps open: one atomic slot per port number
/// modulo `capacity`.
class LockFileCache {
 public:
  /// At most this many unlocked descriptors stay open per manager: enough for a service that
  /// cycles through a few ports of its pool, small beside the descriptor limit (1024 by default)
  /// of a process that cycles through a thousand ports (a slot is shared by the ports equal modulo
  /// `capacity`, and the newer descriptor displaces the older one).
  static constexpr std::size_t capacity = 16;

  LockFileCache() { static_cast<void>(fork_generation()); }  // the fork handlers, before any entry
  LockFileCache(const LockFileCache&) = delete;
  LockFileCache& operator=(const LockFileCache&) = delete;
  LockFileCache(LockFileCache&&) = delete;
  LockFileCache& operator=(LockFileCache&&) = delete;
  ~LockFileCache() {
    for (auto& slot : slots_) {
      delete slot.exchange(nullptr);
    }
  }

  /// The kept lock file of `port` in `directory`, if there is one that may serve in this process
  /// now; an entry that may not (kept before a fork, or in a directory since replaced) is closed.
  std::unique_ptr<KeptLockFile> take(std::uint16_t port, const LockDirectory* directory) noexcept {
    auto& slot = slot_of(port);
    std::unique_ptr<KeptLockFile> kept(slot.exchange(nullptr));
    if (!kept) {
      return nullptr;
    }
    const bool current = kept->fork_generation == fork_generation();
    if (current && kept->port != port) {
      KeptLockFile* empty = nullptr;
      if (slot.compare_exchange_strong(empty, kept.get())) {
        static_cast<void>(kept.release());  // another port's, back in its slot
      }
      return nullptr;
    }
    if (!current || kept->directory.get() != directory) {
      return nullptr;
    }
    return kept;
  }

  /// Keeps `kept` (unlocked) for the next hold of its port; closes the entry it displaces.
  void keep(std::unique_ptr<KeptLockFile> kept) noexcept {
    auto& slot = slot_of(kept->port);
    delete slot.exchange(kept.release());
  }

 private:
  std::atomic<KeptLockFile*>& slot_of(std::uint16_t port) noexcept { return slots_[port % capacity]; }

  std::array<std::atomic<KeptLockFile*>, capacity> slots_{};
};

}  // namespace portpool::detail
