#pragma once

// The descendants of a process, from the parent pids in /proc/<pid>/stat. A service is often a
// tree (a launcher such as `sh -c`, `npm start` or a master with workers): its listener belongs to
// a descendant of the process that was started, which the shield and `portpool run` must know as
// the service's own. A walk reads the stat file of every process of the machine, so it is only
// taken when a listener is not already known to be ours.

#include <portpool/detail/parse_number.hpp>

#include <dirent.h>
#include <sys/types.h>

#include <algorithm>
#include <fstream>
#include <iterator>
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
  while (const dirent* entry = ::readdir(processes)) {  // NOLINT(concurrency-mt-unsafe): private DIR*
    auto pid = pid_of_name(entry->d_name);
    if (!pid) {
      continue;
    }
    std::ifstream file("/proc/" + std::to_string(*pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    auto parent = parent_pid_of_stat(stat);  // -1 when it exited meanwhile
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
