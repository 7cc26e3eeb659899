#pragma once

// A holder's own record file, in a shared lock directory.
//
// In a shared directory every member can rewrite the record inside any lock file (it must be able
// to open the file for writing to lock it). So there a holder also writes its record into a file
// of its own, `port-N.record.UID` (`instance-N.record.UID` for an instance number): created with
// mode 0644 whatever the umask, and write-locked for as long as the hold lasts. Only its owner (or
// root) can write to it or take a write lock on it, and the sticky bit of a shared directory keeps
// the others from removing or replacing it.
//
// A reader of a held lock file asks the lock which user its holder claims to be
// (detail/lock_range.hpp) and believes that user's record file when it is a regular file with one
// name, belongs to that user, is writable by nobody else and is locked (its holder lives). Else it
// shows the lock file's own record, marked unverified (Holder::verified). A member can so make
// another's hold read as unverified (by planting a file at the name of that user's record file,
// or by holding a port while naming another user), but never make a record of its own read as
// another user's: the record file's owner, its lock and its mode are the kernel's word.
//
// A release removes the record file before it drops the lock, so that the next holder of the
// port, of the same user, never finds its predecessor's. The file of a holder that died is left
// unlocked, which readers ignore, and is taken over by that user's next holder of the port.

#include <portpool/detail/lock_range.hpp>
#include <portpool/detail/message.hpp>
#include <portpool/detail/names.hpp>
#include <portpool/holder.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/record.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portpool::detail {

/// The name of the record file of `uid` for the lock file `lock_name` ("port-N.lock").
inline std::string record_file_name(std::string_view lock_name, uid_t uid) {
  constexpr std::string_view lock_suffix = ".lock";
  auto stem = lock_name.substr(0, lock_name.size() - lock_suffix.size());
  return format_message("{}.record.{}", {stem, uid});
}

/// The port whose record file is named `name` ("port-N.record.UID"), or nullopt for any other name.
inline std::optional<std::uint16_t> port_of_record_file_name(std::string_view name) {
  constexpr std::string_view marker = ".record.";
  auto position = name.find(marker);
  if (position == std::string_view::npos) {
    return std::nullopt;
  }
  return port_of_lock_name(std::string(name.substr(0, position)) + ".lock");
}

/// This user's record file, opened for writing and locked; or no file, with `error` set when it
/// could not be created (no room, no descriptor) and 0 when something this user cannot use stands
/// at its name (the hold is then shown unverified).
struct OwnRecordFile {
  UniqueFd file;
  int error = 0;
};

/// Opens, creating it when missing, the record file `name` of `directory`'s user, and locks it.
inline OwnRecordFile open_own_record_file(const LockDirectory& directory, const std::string& name) {
  constexpr mode_t readable_by_all = 0644;
  UniqueFd file(::openat(directory.fd.get(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                         readable_by_all));
  if (!file) {
    const int error = errno;
    const bool planted = error == EACCES || error == EPERM || error == ELOOP || error == EISDIR || error == ENXIO;
    return {UniqueFd(), planted ? 0 : error};
  }
  struct stat status {};
  auto lock = whole_file_lock(F_WRLCK);
  if (::fstat(file.get(), &status) != 0 || !S_ISREG(status.st_mode) || status.st_nlink != 1 ||
      status.st_uid != directory.user ||
      ((status.st_mode & 07777) != readable_by_all && ::fchmod(file.get(), readable_by_all) != 0) ||
      ::fcntl(file.get(), F_OFD_SETLK, &lock) != 0) {
    return {};
  }
  return {std::move(file), 0};
}

/// The record in the record file `name` of `uid`, when the kernel vouches that `uid` wrote it and
/// its holder lives (see the top of this file); else nullopt.
inline std::optional<Holder> own_record(const LockDirectory& directory, const std::string& name, uid_t uid) {
  UniqueFd file(::openat(directory.fd.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  struct stat status {};
  if (!file || ::fstat(file.get(), &status) != 0 || !S_ISREG(status.st_mode) || status.st_nlink != 1 ||
      status.st_uid != uid || (status.st_mode & (S_IWGRP | S_IWOTH)) != 0 || !is_locked(file.get())) {
    return std::nullopt;
  }
  return read_record(file.get());
}

/// What readers report about the held lock file `lock_file` (named `lock_name`), whose own record
/// is `lock_file_record`: that record in a private directory; in a shared one, the record file of
/// the user its lock names, else the lock file's record marked unverified.
inline std::optional<Holder> vouched_record(const LockDirectory& directory, std::string_view lock_name, int lock_file,
                                            std::optional<Holder> lock_file_record) {
  if (!directory.shared) {
    return lock_file_record;
  }
  if (auto uid = claimed_holder_uid(lock_file)) {
    if (auto record = own_record(directory, record_file_name(lock_name, *uid), *uid)) {
      return record;
    }
  }
  if (lock_file_record) {
    lock_file_record->verified = false;
  }
  return lock_file_record;
}

}  // namespace portpool::detail
