#pragma once

// fcntl record locks belong to the process, not to the descriptor: a second lock on the same file
// from the same process "succeeds", and closing any descriptor of the file drops the lock. So the
// process keeps its own table of the lock files it holds, and every open of a lock file (to lock
// it or to test it) happens under this table's mutex, after the table said the file is not ours.
//
// Entries carry the pid that made them: after fork() the child inherits the table's memory but
// none of the locks, and must not believe it holds them.

#include <portpool/holder.hpp>

#include <sys/types.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace portpool::detail {

struct LockKey {
  dev_t device;
  ino_t inode;  // of the lock directory
  std::string name;

  bool operator<(const LockKey& other) const {
    return std::tie(device, inode, name) < std::tie(other.device, other.inode, other.name);
  }
};

class ProcessTable {
 public:
  static ProcessTable& instance() {
    static ProcessTable table;
    return table;
  }

  std::mutex& mutex() { return mutex_; }

  // The caller holds mutex().
  const Holder* find(const LockKey& key) const {
    auto entry = held_.find(key);
    return entry != held_.end() && entry->second.pid == ::getpid() ? &entry->second : nullptr;
  }
  void insert(const LockKey& key, const Holder& holder) { held_.insert_or_assign(key, holder); }
  void erase(const LockKey& key) {
    auto entry = held_.find(key);
    if (entry != held_.end() && entry->second.pid == ::getpid()) {
      held_.erase(entry);
    }
  }

 private:
  ProcessTable() = default;

  std::mutex mutex_;
  std::map<LockKey, Holder> held_;
};

}  // namespace portpool::detail
