#pragma once

// What only the benchmarks need, over the support library they share with the tests (tests/support,
// CMake target portpool_test_support): a lock directory opened as a descriptor, more descriptors,
// ranges of ports free right now, a child process that holds a whole pool, percentiles.

#include <portpool/portpool.hpp>

#include "holding_child.hpp"
#include "temp_dir.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace portpool_bench {

/// A private lock directory opened as a descriptor, for the floors' bare *at() calls.
class LockDirDescriptor {
 public:
  LockDirDescriptor() {
    std::filesystem::create_directories(directory_.lock_dir());
    descriptor_ = ::open(directory_.lock_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (descriptor_ < 0) {
      throw std::runtime_error("cannot open the lock directory " + directory_.lock_dir().string());
    }
  }
  LockDirDescriptor(const LockDirDescriptor&) = delete;
  LockDirDescriptor& operator=(const LockDirDescriptor&) = delete;
  LockDirDescriptor(LockDirDescriptor&&) = delete;
  LockDirDescriptor& operator=(LockDirDescriptor&&) = delete;
  ~LockDirDescriptor() { ::close(descriptor_); }
  int get() const { return descriptor_; }
  std::filesystem::path path() const { return directory_.lock_dir(); }

 private:
  portpool::test::TempDir directory_;
  int descriptor_ = -1;
};

inline void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

inline std::vector<std::uint16_t> port_range(std::uint16_t first, std::size_t count) {
  std::vector<std::uint16_t> ports;
  for (std::size_t index = 0; index < count; ++index) {
    ports.push_back(static_cast<std::uint16_t>(first + index));
  }
  return ports;
}

/// `count` consecutive ports on which nothing listens right now, on any local address (the
/// library's probe), below the usual ephemeral range (32768 and up) so that outgoing connections do
/// not take them during a run, and from 12000 up, below the range the tests reserve their ports
/// from (20000 to 32000), so that a benchmark's smoke test run beside them keeps its ports.
inline std::vector<std::uint16_t> free_port_range(std::size_t count, std::uint16_t lowest = 12000) {
  constexpr std::size_t highest = 32767;
  for (std::size_t first = lowest; first + count <= highest + 1; first += count) {
    bool all_free = true;
    for (std::size_t port = first; port < first + count && all_free; ++port) {
      all_free = portpool::detail::bind_every_address(static_cast<std::uint16_t>(port)) == 0;
    }
    if (all_free) {
      return port_range(static_cast<std::uint16_t>(first), count);
    }
  }
  throw std::runtime_error("no range of " + std::to_string(count) + " free ports below 32768");
}

/// A child process that takes every port of `pool` (lock files only, no probe) and holds them
/// until destroyed, so that the parent meets locks held by another process.
class PoolHolderProcess {
 public:
  PoolHolderProcess(const std::vector<std::uint16_t>& pool, const std::filesystem::path& lock_dir)
      : child_([&](portpool::test::HoldingChild::Hold& hold) { take_all_and_hold(pool, lock_dir, hold); }) {
    if (child_.report() != "held") {
      throw std::runtime_error("the holder process could not take its pool");
    }
  }

 private:
  // A manager tries its pool from the start, so taking N ports from one manager would cost N^2/2
  // attempts: chunks of 100 ports keep the setup of a 10,000-port pool short.
  static void take_all_and_hold(const std::vector<std::uint16_t>& pool, const std::filesystem::path& lock_dir,
                                portpool::test::HoldingChild::Hold& hold) {
    raise_descriptor_limit();
    portpool::Options options;
    options.lock_dir = lock_dir;
    std::vector<portpool::PortLease> leases;
    constexpr std::size_t chunk = 100;
    for (std::size_t first = 0; first < pool.size(); first += chunk) {
      std::vector<std::uint16_t> part(pool.begin() + static_cast<std::ptrdiff_t>(first),
                                      pool.begin() + static_cast<std::ptrdiff_t>(std::min(pool.size(), first + chunk)));
      portpool::BasicPortPoolManager<portpool::FileLockPolicy, portpool::NoProbe> manager("holder", part, options);
      for (std::size_t index = 0; index < part.size(); ++index) {
        leases.push_back(manager.acquire());
      }
    }
    hold.hold("held");
  }

  portpool::test::HoldingChild child_;
};

/// The value below which `fraction` of the sorted `values` lie (nearest rank).
inline double percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) {
    return 0.0;
  }
  auto rank = static_cast<std::size_t>(std::lround(fraction * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(rank, sorted.size() - 1)];
}

}  // namespace portpool_bench
