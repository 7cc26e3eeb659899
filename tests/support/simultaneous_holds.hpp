#pragma once

// Many threads taking and giving back the ports of one pool at once, counting every moment a port
// was held by two leases: what the tests of one process's threads (one manager shared, or one each)
// check to be zero.

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace portpool::test {

struct SimultaneousHolds {
  int acquisitions = 0;  ///< leases taken, over every thread and round
  int violations = 0;    ///< times a lease was taken of a port another lease held
};

/// Runs `threads` threads; each calls `make_try()` once (in the thread: a manager of its own, or one
/// shared), then tries `rounds` times to take a lease with what it returned (a callable giving a
/// std::optional of a lease), marking the lease's port held until the lease ends.
template <class MakeTry>
SimultaneousHolds count_simultaneous_holds(const std::vector<std::uint16_t>& ports, int threads, int rounds,
                                           MakeTry make_try) {
  std::vector<std::atomic<int>> in_use(ports.size());
  std::atomic<int> acquisitions{0};
  std::atomic<int> violations{0};
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(threads));
  for (int thread = 0; thread < threads; ++thread) {
    workers.emplace_back([&] {
      auto try_acquire = make_try();
      for (int round = 0; round < rounds; ++round) {
        auto lease = try_acquire();
        if (!lease) {
          continue;
        }
        ++acquisitions;
        auto& holders =
            in_use[static_cast<std::size_t>(std::find(ports.begin(), ports.end(), lease->port()) - ports.begin())];
        if (holders.fetch_add(1) != 0) {
          ++violations;
        }
        std::this_thread::yield();
        holders.fetch_sub(1);
      }
    });
  }
  for (auto& worker : workers) {
    worker.join();
  }
  return {acquisitions.load(), violations.load()};
}

}  // namespace portpool::test
