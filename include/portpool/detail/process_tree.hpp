#pragma once

// The descendants of a process, from the parent pids in /proc/<pid>/stat. A service is often a
// tree (a launcher such as `sh -c`, `npm start` or a master with workers): its listener belongs to
// a descendant of the process that was started, which the shield and `portpool run` must know as
// the service's own. A walk reads the stat file of every process of the machine, so it is only
// taken when a listener is not already known to be ours.

#include <portpool/detail/parse_number.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace portpool::detail {

/// The parent pid in the text of /proc/<pid>/stat, or -1. The command name (field 2) is in
/// parentheses and may itself contain ") ", so the fields are counted from the last ')'.
inline pid_t parent_pid_of_stat(std::string_view stat) {
  auto name_end = stat.rfind(')');
  // ") S 1234 ...": the state, then the parent pid.
  if (name_end == std::string_view::npos || name_end + 4 >= stat.size()) {
    return -1;
  }
  auto fields = stat.substr(name_end + 4);
  auto parent = parse_integer<pid_t>(fields.substr(0, fields.find(' ')));
  return parent ? *parent : -1;
}

/// A pid from a /proc entry name, or nullopt for the entries that are not processes.
inline std::optional<pid_t> pid_of_name(std::string_view name) {
  auto pid = parse_integer<pid_t>(name);
  return pid && *pid > 0 ? pid : std::nullopt;
}

/// The parent pid of process `pid`, read from its stat file under the /proc directory `proc`, or -1
/// when it is gone. A walk reads the stat file of every process of the machine: one read() into a
/// buffer on the stack makes it three times faster than an ifstream per process (five times under
/// ThreadSanitizer). The fields up to the parent pid fit in the buffer whatever the line's length.
inline pid_t read_parent_pid(int proc, pid_t pid) {
  std::array<char, 512> buffer{};
  auto path = std::to_string(pid) + "/stat";
  int file = ::openat(proc, path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file < 0) {
    return -1;
  }
  auto count = ::read(file, buffer.data(), buffer.size());
  ::close(file);
  return count > 0 ? parent_pid_of_stat(std::string_view(buffer.data(), static_cast<std::size_t>(count))) : -1;
}

/// The children of every process, by parent pid, from one walk of /proc; `torn` tells whether a
/// process's parent had vanished from /proc before the walk was over.
inline std::unordered_map<pid_t, std::vector<pid_t>> read_children_by_parent(bool& torn) {
  std::unordered_map<pid_t, std::vector<pid_t>> children;
  std::unordered_set<pid_t> seen;
  DIR* processes = ::opendir("/proc");
  if (processes == nullptr) {
    torn = false;
    return children;
  }
  while (const dirent* entry = ::readdir(processes)) {
    auto pid = pid_of_name(entry->d_name);
    if (!pid) {
      continue;
    }
    auto parent = read_parent_pid(::dirfd(processes), *pid);  // -1 when it exited meanwhile
    if (parent >= 0) {
      seen.insert(*pid);
    }
    if (parent > 0) {
      children[parent].push_back(*pid);
    }
  }
  ::closedir(processes);
  torn = std::any_of(children.begin(), children.end(), [&](const auto& entry) { return seen.count(entry.first) == 0; });
  return children;
}

/// The children of every process now, by parent pid. The walk is not atomic: when a process's
/// parent exits during it (the middle process of a daemon's double fork), the child can be read
/// with a parent that is no longer there, and then its subreaper would not be known as its
/// ancestor. Such a walk is taken again, a few times at most (all of them when /proc hides other
/// users' processes, hidepid, and a visible process has a hidden parent: the result is as good).
inline std::unordered_map<pid_t, std::vector<pid_t>> children_by_parent() {
  constexpr int attempts = 4;
  bool torn = false;
  auto children = read_children_by_parent(torn);
  for (int attempt = 1; torn && attempt < attempts; ++attempt) {
    children = read_children_by_parent(torn);
  }
  return children;
}

/// Every living descendant of `root` (not `root` itself), parents before their children. A
/// process that has already been reparented away from the tree (its parent died and no
/// subreaper of the tree took it) is no longer found.
inline std::vector<pid_t> descendants_of(pid_t root) {
  auto children = children_by_parent();
  std::vector<pid_t> found;
  std::vector<pid_t> pending{root};
  std::unordered_set<pid_t> seen;
  while (!pending.empty()) {
    auto parent = pending.back();
    pending.pop_back();
    auto entry = children.find(parent);
    if (entry == children.end()) {
      continue;
    }
    for (auto child : entry->second) {
      // The walk of /proc is not atomic: a reused pid could close a loop.
      if (child != root && seen.insert(child).second) {
        found.push_back(child);
        pending.push_back(child);
      }
    }
  }
  return found;
}

}  // namespace portpool::detail
