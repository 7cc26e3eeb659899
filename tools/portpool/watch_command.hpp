#pragma once

// `portpool status --watch`: the registry's changes as they happen, one line each.

#include <portpool/options.hpp>

namespace portpool::cli {

/// Prints the current holders, then every change until interrupted: text lines, or JSON lines
/// (the gateway's /api/events messages) when `json`.
/// @throws LockDirError when the lock directory is unsafe; ResourceError without inotify.
[[noreturn]] void watch_registry(const Options& options, bool json);

}  // namespace portpool::cli
