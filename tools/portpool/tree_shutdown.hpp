#pragma once

// Ending what is left of CMD's process tree, so that nothing it started keeps listening on a
// port that is no longer held for it.

#include <sys/types.h>

#include <chrono>

namespace portpool::cli {

/// Sends SIGTERM to the process group `group` and to every other descendant of this process, waits
/// up to `grace` for them all to end, then sends SIGKILL to the group and, round after round, to
/// every descendant still found (one forked meanwhile included). Returns only when this process has
/// no child left: it is a subreaper, so orphans of the tree become its children, and no child means
/// no process of the tree. Reaps every child that ends meanwhile: call it once the children whose
/// status matters were reaped.
void end_process_tree(pid_t group, std::chrono::milliseconds grace);

}  // namespace portpool::cli
