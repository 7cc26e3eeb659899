#pragma once

// The byte range a holder locks, and what a reader can learn from it.
//
// An open-file-description lock does not say who holds it: F_OFD_GETLK reports pid -1. In a
// shared lock directory every member can write every lock file (it must open it for writing to
// lock it), so the record inside it says nothing the kernel vouches for. What F_OFD_GETLK does
// report is the conflicting lock's range, and only the holder can choose it. So a holder locks
// the bytes [0, uid_length_base + its effective uid) rather than the whole file: readers learn
// which user the holder claims to be, and look for that user's own record file
// (impl/record_file.hpp), which only that user can have written and locked.
//
// The range starts at byte 0 and reaches far beyond any record, so it conflicts with every whole
// file lock: an older portpool, or a boost::interprocess::file_lock, excludes it and is excluded
// by it as before. A lock of a whole file (length 0) names nobody.

#include <fcntl.h>
#include <sys/types.h>

#include <cstdint>
#include <limits>
#include <optional>

namespace portpool::detail {

inline constexpr off_t uid_length_base = off_t{1} << 40;

inline struct flock whole_file_lock(short type) {
  struct flock request {};
  request.l_type = type;
  request.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file; l_pid must be 0 for OFD locks
  return request;
}

/// The write lock a holder running as `uid` takes on a lock file.
inline struct flock holder_lock(uid_t uid) {
  auto request = whole_file_lock(F_WRLCK);
  request.l_len = uid_length_base + static_cast<off_t>(uid);
  return request;
}

/// Whether some open file holds a lock on the file `fd` (this process's other opens included).
inline bool is_locked(int fd) {
  auto probe = whole_file_lock(F_WRLCK);
  return ::fcntl(fd, F_OFD_GETLK, &probe) == 0 && probe.l_type != F_UNLCK;
}

/// The user that the holder of the lock on the file `fd` says it runs as (see holder_lock()), or
/// nullopt when the file is not locked or its lock names nobody.
inline std::optional<uid_t> claimed_holder_uid(int fd) {
  auto probe = whole_file_lock(F_WRLCK);
  probe.l_len = 1;  // byte 0: only the holder's own lock covers it
  if (::fcntl(fd, F_OFD_GETLK, &probe) != 0 || probe.l_type == F_UNLCK || probe.l_start != 0 ||
      probe.l_len < uid_length_base) {
    return std::nullopt;
  }
  const auto uid = static_cast<std::uint64_t>(probe.l_len - uid_length_base);
  if (uid > std::numeric_limits<uid_t>::max()) {
    return std::nullopt;
  }
  return static_cast<uid_t>(uid);
}

}  // namespace portpool::detail
