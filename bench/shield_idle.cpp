// What watching costs: CPU used by idle PortShields, and how fast a deleted lock file is reported.
//
//   shield_idle [google-benchmark flags]
//   PORTPOOL_BENCH_SECONDS=N   length of each measured window (default 10)
//
// IdleShields/N: N leases (no probe, ports 40000 and up, a private lock directory), each watched
// by a PortShield with the default 1 s interval, on one io_context run by one thread. After a
// warm-up, the process's CPU time (user + system, every thread, from getrusage) is measured over a
// window of wall time. `cpu_pct` is that CPU time as a percentage of one core.
//
// IdleListeningShields/N: the same with N ListeningLeases (N sockets listening on 127.0.0.1) and
// `expect_listener`, so that every check finds and identifies its own listener.
//
// LockFileRemovalLatency/B: time from unlink() of a shielded lock file to the callback (interval
// 60 s, so only the inotify path can be that fast), with B other idle shields watching the same
// directory.

#include <portpool/portpool.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

class TempLockDir {
 public:
  TempLockDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "portpool-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  TempLockDir(const TempLockDir&) = delete;
  TempLockDir& operator=(const TempLockDir&) = delete;
  TempLockDir(TempLockDir&&) = delete;
  TempLockDir& operator=(TempLockDir&&) = delete;
  ~TempLockDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::filesystem::path locks() const { return path_ / "locks"; }

 private:
  std::filesystem::path path_;
};

class IoThread {
 public:
  IoThread() : guard_(context_.get_executor()), thread_([this] { context_.run(); }) {}
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  IoThread(IoThread&&) = delete;
  IoThread& operator=(IoThread&&) = delete;
  ~IoThread() {
    guard_.reset();
    context_.stop();
    thread_.join();
  }
  boost::asio::any_io_executor executor() { return context_.get_executor(); }

 private:
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

std::chrono::duration<double> cpu_time() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& value) {
    return static_cast<double>(value.tv_sec) + static_cast<double>(value.tv_usec) / 1e6;
  };
  return std::chrono::duration<double>(seconds(usage.ru_utime) + seconds(usage.ru_stime));
}

std::chrono::seconds window() {
  const char* configured = std::getenv("PORTPOOL_BENCH_SECONDS");  // NOLINT(concurrency-mt-unsafe)
  return std::chrono::seconds(configured != nullptr ? std::max(1L, std::strtol(configured, nullptr, 10)) : 10L);
}

void raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

std::vector<std::uint16_t> port_range(std::uint16_t first, std::size_t count) {
  std::vector<std::uint16_t> ports;
  for (std::size_t index = 0; index < count; ++index) {
    ports.push_back(static_cast<std::uint16_t>(first + index));
  }
  return ports;
}

void measure_idle(benchmark::State& state, const std::atomic<std::size_t>& reports) {
  std::this_thread::sleep_for(1500ms);  // warm-up: the first checks, the first table reads
  for (auto _ : state) {
    auto cpu_before = cpu_time();
    auto wall_before = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(window());
    auto cpu = cpu_time() - cpu_before;
    auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before);
    state.SetIterationTime(wall.count());
    state.counters["cpu_pct"] = 100.0 * cpu.count() / wall.count();
    state.counters["cpu_us_per_check"] =
        1e6 * cpu.count() / (static_cast<double>(state.range(0)) * wall.count());  // one check per second each
  }
  state.counters["losses"] = static_cast<double>(reports.load());
}

void IdleShields(benchmark::State& state) {
  raise_descriptor_limit();
  auto count = static_cast<std::size_t>(state.range(0));
  TempLockDir directory;
  portpool::Options options;
  options.lock_dir = directory.locks();
  portpool::BasicPortPoolManager<portpool::FileLockPolicy, portpool::NoProbe> manager(
      "bench", port_range(40000, count), options);
  std::vector<portpool::PortLease> leases;
  for (std::size_t index = 0; index < count; ++index) {
    leases.push_back(manager.acquire());
  }
  IoThread io;
  std::atomic<std::size_t> reports{0};
  std::vector<std::unique_ptr<portpool::PortShield>> shields;
  for (const auto& lease : leases) {
    shields.push_back(std::make_unique<portpool::PortShield>(
        io.executor(), lease, [&reports](const portpool::ShieldEvent&) { ++reports; }));
  }
  measure_idle(state, reports);
  shields.clear();
}
BENCHMARK(IdleShields)->Arg(100)->Arg(1000)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

void IdleListeningShields(benchmark::State& state) {
  raise_descriptor_limit();
  auto count = static_cast<std::size_t>(state.range(0));
  TempLockDir directory;
  portpool::Options options;
  options.lock_dir = directory.locks();
  IoThread io;
  portpool::PortPoolManager manager("bench", port_range(42000, 3 * count), options);
  std::vector<portpool::ListeningLease> leases;
  for (std::size_t index = 0; index < count; ++index) {
    leases.push_back(manager.acquire_listening(io.executor()));
  }
  std::atomic<std::size_t> reports{0};
  portpool::ShieldOptions shield_options;
  shield_options.expect_listener = true;
  std::vector<std::unique_ptr<portpool::PortShield>> shields;
  for (const auto& lease : leases) {
    shields.push_back(std::make_unique<portpool::PortShield>(
        io.executor(), lease, [&reports](const portpool::ShieldEvent&) { ++reports; }, shield_options));
  }
  measure_idle(state, reports);
  shields.clear();
}
BENCHMARK(IdleListeningShields)->Arg(100)->Arg(1000)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

void LockFileRemovalLatency(benchmark::State& state) {
  raise_descriptor_limit();
  TempLockDir directory;
  portpool::Options options;
  options.lock_dir = directory.locks();
  portpool::BasicPortPoolManager<portpool::FileLockPolicy, portpool::NoProbe> bystanders_manager(
      "bystander", port_range(40000, 1000), options);
  std::vector<portpool::PortLease> bystanders;
  for (std::int64_t index = 0; index < state.range(0); ++index) {
    bystanders.push_back(bystanders_manager.acquire());
  }
  IoThread io;
  portpool::ShieldOptions slow;
  slow.interval = 60s;
  std::vector<std::unique_ptr<portpool::PortShield>> idle;
  for (const auto& lease : bystanders) {
    idle.push_back(
        std::make_unique<portpool::PortShield>(io.executor(), lease, [](const portpool::ShieldEvent&) {}, slow));
  }
  portpool::BasicPortPoolManager<portpool::FileLockPolicy, portpool::NoProbe> manager("bench", {41500}, options);
  std::chrono::duration<double> worst{0};
  for (auto _ : state) {
    auto lease = manager.acquire();
    std::mutex mutex;
    std::condition_variable reported;
    std::chrono::steady_clock::time_point at{};
    portpool::PortShield shield(
        io.executor(), lease,
        [&](const portpool::ShieldEvent&) {
          std::lock_guard guard(mutex);
          at = std::chrono::steady_clock::now();
          reported.notify_all();
        },
        slow);
    auto removed = std::chrono::steady_clock::now();
    ::unlink(lease.lock_file().c_str());
    std::unique_lock lock(mutex);
    if (!reported.wait_for(lock, 10s, [&] { return at != std::chrono::steady_clock::time_point{}; })) {
      state.SkipWithError("the deletion was not reported within 10 s");
      break;
    }
    auto latency = std::chrono::duration<double>(at - removed);
    worst = std::max(worst, latency);
    state.SetIterationTime(latency.count());
  }
  state.counters["worst_ms"] = 1e3 * worst.count();
}
BENCHMARK(LockFileRemovalLatency)->Arg(0)->Arg(1000)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
