#pragma once

// Small helpers shared by the library's tests.

#include "temp_dir.hpp"

#include <portpool/options.hpp>

#include <dirent.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace portpool::test {

/// Options using the test's own lock directory.
inline Options options_in(const TempDir& directory) {
  Options options;
  options.lock_dir = directory.lock_dir();
  return options;
}

/// Options using a world-writable, sticky lock directory inside `directory`, reachable by every
/// user and shared on purpose (Options::shared_lock_dir).
inline Options shared_options_in(const TempDir& directory) {
  namespace fs = std::filesystem;
  fs::permissions(directory.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                        fs::perms::others_read | fs::perms::others_exec);
  fs::create_directory(directory.lock_dir());
  fs::permissions(directory.lock_dir(), fs::perms::all | fs::perms::sticky_bit, fs::perm_options::replace);
  auto options = options_in(directory);
  options.shared_lock_dir = true;
  return options;
}

/// `options` that also collect every event.
inline Options with_recording(Options options, std::vector<Event>& events) {
  options.on_event = [&events](const Event& event) { events.push_back(event); };
  return options;
}

/// Options using the test's own lock directory that also collect every event.
inline Options recording_options(const TempDir& directory, std::vector<Event>& events) {
  return with_recording(options_in(directory), events);
}

/// How many descriptors this process has open.
inline std::size_t open_descriptors() {
  std::size_t count = 0;
  if (DIR* listing = ::opendir("/proc/self/fd")) {
    while (::readdir(listing) != nullptr) {
      ++count;
    }
    ::closedir(listing);
  }
  return count;
}

}  // namespace portpool::test
