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

/// Options that also collect every event.
inline Options recording_options(const TempDir& directory, std::vector<Event>& events) {
  auto options = options_in(directory);
  options.on_event = [&events](const Event& event) { events.push_back(event); };
  return options;
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
