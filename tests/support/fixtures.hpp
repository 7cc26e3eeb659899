#pragma once

// Small helpers shared by the library's tests.

#include "temp_dir.hpp"

#include <portpool/options.hpp>

#include <dirent.h>

#include <cstddef>
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
