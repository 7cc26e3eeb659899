#pragma once

// Waiting for a RegistryWatcher's changes the way a program does (poll its descriptor, then read),
// every wait bounded.

#include <portpool/registry_watcher.hpp>

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace portpool::test {

/// The changes the watcher reports until `count` have come, or `bound` has passed.
inline std::vector<RegistryChange> wait_for_changes(RegistryWatcher& watcher, std::size_t count,
                                                    std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  std::vector<RegistryChange> changes;
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (changes.size() < count && std::chrono::steady_clock::now() < deadline) {
    pollfd ready{watcher.descriptor(), POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (::poll(&ready, 1, static_cast<int>(std::max<long>(left.count(), 0))) > 0) {
      auto more = watcher.read_changes();
      changes.insert(changes.end(), more.begin(), more.end());
    }
  }
  return changes;
}

}  // namespace portpool::test
