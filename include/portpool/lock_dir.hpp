#pragma once

/// @file
/// Where portpool keeps its lock files when no directory is configured.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace portpool {

/// The lock directory used when `Options::lock_dir` is empty: `$PORTPOOL_LOCK_DIR` if set and
/// not empty, else `$XDG_RUNTIME_DIR/portpool`, else `/tmp/portpool-<uid>`.
///
/// @code
/// std::cout << "locks live in " << portpool::default_lock_dir() << '\n';
/// @endcode
inline std::filesystem::path default_lock_dir() {
  auto from_env = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string{} : std::string{value};
  };
  if (auto configured = from_env("PORTPOOL_LOCK_DIR"); !configured.empty()) {
    return configured;
  }
  if (auto runtime = from_env("XDG_RUNTIME_DIR"); !runtime.empty()) {
    return std::filesystem::path(runtime) / "portpool";
  }
  return std::filesystem::path("/tmp") / ("portpool-" + std::to_string(::geteuid()));
}

/// The lock directory that options with `lock_dir` set to `configured` would use.
inline std::filesystem::path resolve_lock_dir(const std::filesystem::path& configured) {
  return configured.empty() ? default_lock_dir() : configured;
}

}  // namespace portpool
