// Repeats one operation COUNT times, so that `strace -f -c` can count the system calls it makes.
//
//   cycle_syscalls MODE COUNT
//
// MODE is one of:
//   floor            the floor of bench/floor.hpp: lock and unlock a lock file, listen on [::]:P (9 calls)
//   acquire-release  PortPoolManager::acquire() then release() on a free pool of 3 (bind probe)
//   udp-floor        the UDP floor: lock and unlock a lock file, bind a UDP socket to [::]:P (7 calls)
//   udp-acquire-release  the same as acquire-release, for a udp pool (the UDP bind probe)
//   exhausted        try_acquire() on a pool of 100 ports all held by another process
//
// The set-up is the same whatever COUNT is, so the calls of one repetition are the difference
// between a run with COUNT and a run with 0, divided by COUNT (bench/compare-peers.sh does this).
// Exits 1 when a repetition fails.

#include "bench_support.hpp"
#include "fixtures.hpp"
#include "floor.hpp"
#include "temp_dir.hpp"

#include <portpool/portpool.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace {

using portpool::test::TempDir;
using portpool_bench::free_port_range;

bool repeat_floor(long count, portpool::Transport transport) {
  portpool_bench::LockDirDescriptor directory;
  auto port = free_port_range(1).front();
  auto check =
      transport == portpool::Transport::udp ? portpool_bench::bind_udp_and_close : portpool_bench::listen_and_close;
  for (long index = 0; index < count; ++index) {
    if (!portpool_bench::lock_and_unlock(directory.get(), "port-1.lock") || !check(port)) {
      return false;
    }
  }
  return true;
}

bool repeat_acquire_release(long count, portpool::Transport transport) {
  TempDir directory;
  auto options = portpool::test::options_in(directory);
  options.transport = transport;
  portpool::PortPoolManager manager("bench", free_port_range(3), options);
  for (long index = 0; index < count; ++index) {
    auto lease = manager.acquire();
  }
  return true;
}

bool repeat_exhausted(long count) {
  constexpr std::size_t size = 100;
  TempDir directory;
  auto pool = portpool_bench::port_range(static_cast<std::uint16_t>(65535 - size), size);
  portpool_bench::PoolHolderProcess holder(pool, directory.lock_dir());
  auto options = portpool::test::options_in(directory);
  portpool::PortPoolManager manager("bench", pool, options);
  for (long index = 0; index < count; ++index) {
    if (manager.try_acquire()) {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: cycle_syscalls floor|acquire-release|udp-floor|udp-acquire-release|exhausted COUNT\n");
    return 2;
  }
  const std::string mode = argv[1];
  auto parsed = portpool::detail::parse_integer<long>(argv[2]);
  if (!parsed) {
    std::fprintf(stderr, "cycle_syscalls: COUNT '%s' is not a number of repetitions: use digits, as in 1000\n",
                 argv[2]);
    return 2;
  }
  const long count = *parsed;
  try {
    bool done = false;
    if (mode == "floor" || mode == "udp-floor") {
      done = repeat_floor(count, mode == "floor" ? portpool::Transport::tcp : portpool::Transport::udp);
    } else if (mode == "acquire-release" || mode == "udp-acquire-release") {
      done = repeat_acquire_release(count,
                                    mode == "acquire-release" ? portpool::Transport::tcp : portpool::Transport::udp);
    } else if (mode == "exhausted") {
      done = repeat_exhausted(count);
    } else {
      std::fprintf(stderr,
                   "cycle_syscalls: unknown mode '%s': use floor, acquire-release, udp-floor, udp-acquire-release or "
                   "exhausted\n",
                   mode.c_str());
      return 2;
    }
    if (!done) {
      std::fprintf(stderr, "cycle_syscalls: a repetition of '%s' failed\n", mode.c_str());
      return 1;
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "cycle_syscalls: %s\n", error.what());
    return 1;
  }
  return 0;
}
