#pragma once

/// @file
/// descendants_of(): a process's descendants, as the shield and `portpool run` know a service's own
/// processes (a launcher such as `sh -c` or `npm start` starts the process that listens).

#include <portpool/detail/process_tree.hpp>

#include <sys/types.h>

#include <vector>

namespace portpool {

/// Every living descendant of `root` (not `root` itself), parents before their children, from the
/// parent pids in /proc. A process already reparented away from the tree (its parent died and no
/// subreaper of the tree took it) is no longer found. Reads the stat file of every process of the machine: call it
/// when a process tree must be known, not in a tight loop.
///
/// @code
/// for (pid_t child : portpool::descendants_of(::getpid())) {
///   ::kill(child, SIGTERM);
/// }
/// @endcode
inline std::vector<pid_t> descendants_of(pid_t root) { return detail::descendants_of(root); }

}  // namespace portpool
