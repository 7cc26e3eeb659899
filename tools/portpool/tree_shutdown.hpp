#pragma once

// Ending what is left of CMD's process tree, so that nothing it started keeps listening on a
// port that is no longer held for it.

#include <sys/types.h>

#include <chrono>

namespace portpool::cli {

/// Sends SIGTERM to the process group `group` and to every descendant of this process, waits up
/// to `grace` for them all to end, then sends SIGKILL to those left and waits for them. Reaps
/// every child of this process that ends meanwhile: this process is a subreaper, so orphans of
/// the tree become its children. Call it once the children whose status matters were reaped.
void end_process_tree(pid_t group, std::chrono::milliseconds grace);

}  // namespace portpool::cli
