#pragma once

// The descendants of a process, from the parent pids in /proc/<pid>/stat. A service is often a
// tree (a launcher such as `sh -c`, `npm start` or a master with workers): its listener belongs to
// a descendant of the process that was started, which the shield and `portpool run` must know as
// the service's own. One walk of /proc costs about a millisecond per thousand processes, so it is
// only taken when a listener is not already known to be ours.

#include <portpool/detail/socket_table.hpp>

#include <dirent.h>
#include <sys/types.h>

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
  if (name_end == std::string_view::npos) {
    return -1;
  }
  std::size_t position = name_end + 1;
  next_field(stat, position);  // the state
  auto parent = parse_unsigned(next_field(stat, position), 10);
  return parent ? static_cast<pid_t>(*parent) : -1;
}

/// The children of every process now, by parent pid.
inline std::unordered_map<pid_t, std::vector<pid_t>> children_by_parent() {
  std::unordered_map<pid_t, std::vector<pid_t>> children;
  DIR* processes = ::opendir("/proc");
  if (processes == nullptr) {
    return children;
  }
  while (const dirent* entry = ::readdir(processes)) {  // NOLINT(concurrency-mt-unsafe): private DIR*
    std::string_view name(entry->d_name);
    auto pid = parse_unsigned(name, 10);
    if (!pid) {
      continue;
    }
    auto stat = read_proc_file(("/proc/" + std::string(name) + "/stat").c_str());
    if (!stat) {
      continue;  // exited meanwhile
    }
    auto parent = parent_pid_of_stat(*stat);
    if (parent > 0) {
      children[parent].push_back(static_cast<pid_t>(*pid));
    }
  }
  ::closedir(processes);
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
