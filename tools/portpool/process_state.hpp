#pragma once

// What the keeper of a forking service (`run --forking`) learns of one process from
// /proc/<pid>/stat: whether it still runs, and whether it belongs to CMD's tree.

#include <sys/types.h>

#include <string>

namespace portpool::cli {

/// The parent pid of `pid`, or -1 when there is no such process.
pid_t parent_of(pid_t pid);

/// Whether process `pid` exists and is not a zombie (which has ended, though its parent has not
/// collected its status yet).
bool is_running(pid_t pid);

/// Whether `pid` is a descendant of `ancestor` now: its chain of parents leads to `ancestor`.
/// `ancestor` itself is not its own descendant.
bool is_descendant(pid_t pid, pid_t ancestor);

/// The name of `pid` (/proc/<pid>/comm, as `ps` shows it), or "?" when it cannot be read.
std::string process_name(pid_t pid);

}  // namespace portpool::cli
