// What one acquisition costs, next to the floor: the bare system calls any acquisition needs
// (bench/floor.hpp).
//
//   acquire_bench [google-benchmark flags]
//
// Floor/LockFile: openat + fcntl(F_OFD_SETLK) + unlock + close of one lock file (4 calls).
// Floor/ListenSocket: socket + setsockopt(SO_REUSEADDR) + bind([::]) + listen + close (5 calls).
// Floor/LockAndListen: both, "the floor" (9 calls): the least a checked acquisition can do.
// AcquireRelease/NoProbe, AcquireRelease/BindProbe: acquire() then release() on a free pool of 3.
// AcquireListening: acquire_listening() then release (the acceptor closes, then the lock goes).
// Floor/BindUdpSocket: socket + bind([::]) + close of a UDP socket (3 calls).
// Floor/LockAndBindUdp: Floor/LockFile and Floor/BindUdpSocket, "the UDP floor" (7 calls).
// AcquireRelease/Udp: acquire() then release() of a udp pool of 3 (the UDP bind probe).
// AcquireDatagram: acquire_datagram() then release (the bound UDP socket closes, then the lock goes).
// Floor/Exhausted10000/Reopen, /KeptOpen: 10,000 lock files held by another process, each
// refused by open + fcntl + close, or by fcntl alone on descriptors kept open.
// TryAcquireExhausted/N: try_acquire() on a pool of N ports all held by another process.
// RegistryHolders/N: Registry::holders() with N live holders in another process.
//
// Floors and per-acquisition benchmarks run 5 times each (medians); the others once.
// Ports are chosen at run time among those on which nothing listens; each benchmark has its own
// lock directory under $TMPDIR (compare-peers.sh runs it on ext4 /tmp and on tmpfs /dev/shm).

#include "bench_support.hpp"
#include "fixtures.hpp"
#include "floor.hpp"
#include "temp_dir.hpp"

#include <portpool/asio.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using portpool::test::TempDir;
using portpool_bench::free_port_range;
using portpool_bench::LockDirDescriptor;
using portpool_bench::PoolHolderProcess;
using portpool_bench::port_range;

// The per-acquisition benchmarks and their floors are repeated, and compare-peers.sh interleaves
// the repetitions (--benchmark_enable_random_interleaving) and reports the medians: on a shared
// machine the floor and portpool then meet the same bursts of load, and one burst moves a median
// much less than a single run.
constexpr int repetitions = 5;

void FloorLockFile(benchmark::State& state) {
  LockDirDescriptor directory;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    if (!portpool_bench::lock_and_unlock(directory.get(), "port-1.lock")) {
      state.SkipWithError("cannot lock the floor's lock file");
      break;
    }
  }
}
BENCHMARK(FloorLockFile)->Name("Floor/LockFile")->Repetitions(repetitions);

void FloorListenSocket(benchmark::State& state) {
  auto port = free_port_range(1).front();
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    if (!portpool_bench::listen_and_close(port)) {
      state.SkipWithError("cannot listen on the floor's port");
      break;
    }
  }
}
BENCHMARK(FloorListenSocket)->Name("Floor/ListenSocket")->Repetitions(repetitions);

void FloorLockAndListen(benchmark::State& state) {
  LockDirDescriptor directory;
  auto port = free_port_range(1).front();
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    if (!portpool_bench::lock_and_unlock(directory.get(), "port-1.lock") || !portpool_bench::listen_and_close(port)) {
      state.SkipWithError("cannot lock or listen");
      break;
    }
  }
}
BENCHMARK(FloorLockAndListen)->Name("Floor/LockAndListen")->Repetitions(repetitions);

void FloorBindUdpSocket(benchmark::State& state) {
  auto port = free_port_range(1).front();
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    if (!portpool_bench::bind_udp_and_close(port)) {
      state.SkipWithError("cannot bind the UDP floor's port");
      break;
    }
  }
}
BENCHMARK(FloorBindUdpSocket)->Name("Floor/BindUdpSocket")->Repetitions(repetitions);

void FloorLockAndBindUdp(benchmark::State& state) {
  LockDirDescriptor directory;
  auto port = free_port_range(1).front();
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    if (!portpool_bench::lock_and_unlock(directory.get(), "port-1.lock") || !portpool_bench::bind_udp_and_close(port)) {
      state.SkipWithError("cannot lock or bind");
      break;
    }
  }
}
BENCHMARK(FloorLockAndBindUdp)->Name("Floor/LockAndBindUdp")->Repetitions(repetitions);

void AcquireReleaseUdp(benchmark::State& state) {
  TempDir directory;
  auto options = portpool::test::options_in(directory);
  options.transport = portpool::Transport::udp;
  portpool::PortPoolManager manager("bench", free_port_range(3), options);
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    auto lease = manager.acquire();
    benchmark::DoNotOptimize(lease.port());
  }
}
BENCHMARK(AcquireReleaseUdp)->Name("AcquireRelease/Udp")->Repetitions(repetitions);

void AcquireDatagram(benchmark::State& state) {
  TempDir directory;
  auto options = portpool::test::options_in(directory);
  options.transport = portpool::Transport::udp;
  portpool::PortPoolManager manager("bench", free_port_range(3), options);
  boost::asio::io_context io;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    auto datagram = manager.acquire_datagram(io.get_executor());
    benchmark::DoNotOptimize(datagram.port());
  }
}
BENCHMARK(AcquireDatagram)->Repetitions(repetitions);

template <class ProbePolicy>
void AcquireRelease(benchmark::State& state) {
  TempDir directory;
  auto options = portpool::test::options_in(directory);
  portpool::BasicPortPoolManager<portpool::FileLockPolicy, ProbePolicy> manager("bench", free_port_range(3), options);
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    auto lease = manager.acquire();
    benchmark::DoNotOptimize(lease.port());
  }
}
BENCHMARK_TEMPLATE(AcquireRelease, portpool::NoProbe)->Name("AcquireRelease/NoProbe")->Repetitions(repetitions);
BENCHMARK_TEMPLATE(AcquireRelease, portpool::BindProbe)->Name("AcquireRelease/BindProbe")->Repetitions(repetitions);

void AcquireListening(benchmark::State& state) {
  TempDir directory;
  auto options = portpool::test::options_in(directory);
  portpool::PortPoolManager manager("bench", free_port_range(3), options);
  boost::asio::io_context io;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    auto listening = manager.acquire_listening(io.get_executor());
    benchmark::DoNotOptimize(listening.port());
  }
}
BENCHMARK(AcquireListening)->Repetitions(repetitions);

void TryAcquireExhausted(benchmark::State& state) {
  portpool_bench::raise_descriptor_limit();
  auto size = static_cast<std::size_t>(state.range(0));
  TempDir directory;
  auto pool = port_range(static_cast<std::uint16_t>(65535 - size), size);  // locks are refused before any bind
  PoolHolderProcess holder(pool, directory.lock_dir());
  auto options = portpool::test::options_in(directory);
  portpool::PortPoolManager manager("bench", pool, options);
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    if (manager.try_acquire()) {
      state.SkipWithError("a port of the exhausted pool was handed out");
      break;
    }
  }
  state.counters["time_per_port"] =
      benchmark::Counter(static_cast<double>(size) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["pool_size"] = static_cast<double>(size);
}
BENCHMARK(TryAcquireExhausted)->Arg(3)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The floor of an exhausted pool of 10,000 ports: each lock file opened, refused, closed (what any
// open-per-attempt design pays), or kept open between calls so that a refusal is one fcntl.
void FloorExhausted(benchmark::State& state, bool keep_open) {
  portpool_bench::raise_descriptor_limit();
  constexpr std::size_t size = 10000;
  TempDir directory;
  auto pool = port_range(static_cast<std::uint16_t>(65535 - size), size);
  PoolHolderProcess holder(pool, directory.lock_dir());
  int lock_dir = ::open(directory.lock_dir().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  std::vector<std::string> names;
  std::vector<int> kept;
  for (auto port : pool) {
    names.push_back(portpool::FileLockPolicy::lock_name(port));
    if (keep_open) {
      kept.push_back(::openat(lock_dir, names.back().c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    }
  }
  struct flock request {};
  request.l_type = F_WRLCK;
  request.l_whence = SEEK_SET;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    for (std::size_t index = 0; index < size; ++index) {
      int file = keep_open ? kept[index] : ::openat(lock_dir, names[index].c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      benchmark::DoNotOptimize(::fcntl(file, F_OFD_SETLK, &request));
      if (!keep_open) {
        ::close(file);
      }
    }
  }
  for (int file : kept) {
    ::close(file);
  }
  ::close(lock_dir);
}
BENCHMARK_CAPTURE(FloorExhausted, reopen, false)->Name("Floor/Exhausted10000/Reopen")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(FloorExhausted, kept_open, true)
    ->Name("Floor/Exhausted10000/KeptOpen")
    ->Unit(benchmark::kMicrosecond);

void RegistryHolders(benchmark::State& state) {
  portpool_bench::raise_descriptor_limit();
  auto size = static_cast<std::size_t>(state.range(0));
  TempDir directory;
  PoolHolderProcess holder(port_range(static_cast<std::uint16_t>(65535 - size), size), directory.lock_dir());
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    auto holders = portpool::Registry::holders(directory.lock_dir());
    if (holders.size() != size) {
      state.SkipWithError("the registry did not list every holder");
      break;
    }
  }
  state.counters["holders"] = static_cast<double>(size);
}
BENCHMARK(RegistryHolders)->Arg(10)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
