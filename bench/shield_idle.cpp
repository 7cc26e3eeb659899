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
// directory. p50/p90/p99/worst over all deletions are reported as counters.
//
// ForeignListenerLatency/I: time from another process's listen() on a shielded port to the
// callback, with a check interval of I ms; 20 listeners each, started at times spread over the
// interval.

#include "bench_support.hpp"
#include "fixtures.hpp"
#include "holding_child.hpp"
#include "io_threads.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <portpool/asio.hpp>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using portpool::test::IoThreads;
using portpool::test::options_in;
using portpool::test::TempDir;
using portpool_bench::port_range;
using portpool_bench::raise_descriptor_limit;

/// `count` leases from `manager`.
template <class Manager>
std::vector<portpool::PortLease> acquire_each(Manager& manager, std::size_t count) {
  std::vector<portpool::PortLease> leases;
  for (std::size_t index = 0; index < count; ++index) {
    leases.push_back(manager.acquire());
  }
  return leases;
}

/// A shield on `io` for each of `leases`, each calling `on_loss`.
template <class Lease, class OnLoss>
std::vector<std::unique_ptr<portpool::PortShield>> shield_each(IoThreads& io, const std::vector<Lease>& leases,
                                                               OnLoss on_loss, const portpool::ShieldOptions& options) {
  std::vector<std::unique_ptr<portpool::PortShield>> shields;
  shields.reserve(leases.size());
  for (const auto& lease : leases) {
    shields.push_back(std::make_unique<portpool::PortShield>(io.executor(), lease, on_loss, options));
  }
  return shields;
}

std::chrono::duration<double> cpu_time() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& value) {
    return static_cast<double>(value.tv_sec) + static_cast<double>(value.tv_usec) / 1e6;
  };
  return std::chrono::duration<double>(seconds(usage.ru_utime) + seconds(usage.ru_stime));
}

std::chrono::seconds window() {
  const char* configured = std::getenv("PORTPOOL_BENCH_SECONDS");
  return std::chrono::seconds(configured != nullptr ? std::max(1L, std::strtol(configured, nullptr, 10)) : 10L);
}

void measure_idle(benchmark::State& state, const std::atomic<std::size_t>& reports) {
  std::this_thread::sleep_for(1500ms);  // warm-up: the first checks, the first table reads
  for (auto _ : state) {                // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
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
  TempDir directory;
  portpool::BasicPortPoolManager<portpool::FileLockPolicy, portpool::NoProbe> manager("bench", port_range(40000, count),
                                                                                      options_in(directory));
  auto leases = acquire_each(manager, count);
  IoThreads io;
  std::atomic<std::size_t> reports{0};
  auto shields = shield_each(
      io, leases, [&reports](const portpool::ShieldEvent&) { ++reports; }, portpool::ShieldOptions{});
  measure_idle(state, reports);
  shields.clear();
}
BENCHMARK(IdleShields)->Arg(100)->Arg(1000)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

void IdleListeningShields(benchmark::State& state) {
  raise_descriptor_limit();
  auto count = static_cast<std::size_t>(state.range(0));
  TempDir directory;
  IoThreads io;
  portpool::PortPoolManager manager("bench", port_range(42000, 3 * count), options_in(directory));
  std::vector<portpool::ListeningLease> leases;
  for (std::size_t index = 0; index < count; ++index) {
    leases.push_back(manager.acquire_listening(io.executor()));
  }
  std::atomic<std::size_t> reports{0};
  portpool::ShieldOptions shield_options;
  shield_options.expect_listener = true;
  auto shields = shield_each(
      io, leases, [&reports](const portpool::ShieldEvent&) { ++reports; }, shield_options);
  measure_idle(state, reports);
  shields.clear();
}
BENCHMARK(IdleListeningShields)->Arg(100)->Arg(1000)->Iterations(1)->UseManualTime()->Unit(benchmark::kSecond);

void report_latencies(benchmark::State& state, std::vector<double> milliseconds) {
  std::sort(milliseconds.begin(), milliseconds.end());
  state.counters["p50_ms"] = portpool_bench::percentile(milliseconds, 0.50);
  state.counters["p90_ms"] = portpool_bench::percentile(milliseconds, 0.90);
  state.counters["p99_ms"] = portpool_bench::percentile(milliseconds, 0.99);
  state.counters["worst_ms"] = milliseconds.empty() ? 0.0 : milliseconds.back();
}

class Reported {
 public:
  void mark() {
    std::lock_guard guard(mutex_);
    at_ = std::chrono::steady_clock::now();
    reported_.notify_all();
  }
  std::optional<std::chrono::steady_clock::time_point> wait(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    if (!reported_.wait_for(lock, timeout, [&] { return at_ != std::chrono::steady_clock::time_point{}; })) {
      return std::nullopt;
    }
    return at_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable reported_;
  std::chrono::steady_clock::time_point at_{};
};

void LockFileRemovalLatency(benchmark::State& state) {
  raise_descriptor_limit();
  TempDir directory;
  auto options = options_in(directory);
  portpool::BasicPortPoolManager<portpool::FileLockPolicy, portpool::NoProbe> bystanders_manager(
      "bystander", port_range(40000, 1000), options);
  auto bystanders = acquire_each(bystanders_manager, static_cast<std::size_t>(state.range(0)));
  IoThreads io;
  portpool::ShieldOptions slow;
  slow.interval = 60s;
  auto idle = shield_each(
      io, bystanders, [](const portpool::ShieldEvent&) {}, slow);
  portpool::BasicPortPoolManager<portpool::FileLockPolicy, portpool::NoProbe> manager("bench", {41500}, options);
  std::vector<double> latencies_ms;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    auto lease = manager.acquire();
    Reported reported;
    portpool::PortShield shield(
        io.executor(), lease, [&](const portpool::ShieldEvent&) { reported.mark(); }, slow);
    auto removed = std::chrono::steady_clock::now();
    ::unlink(lease.lock_file().c_str());
    auto at = reported.wait(10s);
    if (!at) {
      state.SkipWithError("the deletion was not reported within 10 s");
      break;
    }
    auto latency = std::chrono::duration<double>(*at - removed);
    latencies_ms.push_back(1e3 * latency.count());
    state.SetIterationTime(latency.count());
  }
  report_latencies(state, std::move(latencies_ms));
}
BENCHMARK(LockFileRemovalLatency)->Arg(0)->Arg(1000)->UseManualTime()->Unit(benchmark::kMillisecond);

// A process that listens on `port` (as a foreign program would) from construction to destruction.
class ForeignListener {
 public:
  explicit ForeignListener(std::uint16_t port)
      : child_([port](portpool::test::HoldingChild::Hold& hold) {
          auto listener = portpool::test::try_listen_on(port);
          if (listener) {
            hold.hold(std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
          }
        }) {
    if (child_.report().empty()) {
      throw std::runtime_error("the foreign listener could not listen");
    }
    listening_at_ =
        std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(std::stoll(child_.report())));
  }
  std::chrono::steady_clock::time_point listening_at() const { return listening_at_; }

 private:
  portpool::test::HoldingChild child_;
  std::chrono::steady_clock::time_point listening_at_{};
};

// Shield ticks are aligned on the interval, and each measurement ends on a tick: without a delay
// every listener would appear just after a tick and wait a whole interval. The delays spread the
// start over the interval evenly (golden-ratio sequence), as real listeners would be.
std::chrono::milliseconds spread_over(std::chrono::milliseconds interval, std::size_t index) {
  constexpr double golden_fraction = 0.6180339887;
  double fraction = static_cast<double>(index) * golden_fraction;
  fraction -= static_cast<double>(static_cast<std::size_t>(fraction));
  return std::chrono::milliseconds(static_cast<std::int64_t>(fraction * static_cast<double>(interval.count())));
}

void ForeignListenerLatency(benchmark::State& state) {
  TempDir directory;
  portpool::PortPoolManager manager("bench", portpool_bench::free_port_range(1, 14000), options_in(directory));
  IoThreads io;
  portpool::ShieldOptions shield_options;
  shield_options.interval = std::chrono::milliseconds(state.range(0));
  std::vector<double> latencies_ms;
  for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the benchmark loop
    auto lease = manager.acquire();
    Reported reported;
    portpool::PortShield shield(
        io.executor(), lease, [&](const portpool::ShieldEvent&) { reported.mark(); }, shield_options);
    std::this_thread::sleep_for(spread_over(shield_options.interval, latencies_ms.size()));
    ForeignListener foreign(lease.port());
    auto at = reported.wait(10s);
    if (!at) {
      state.SkipWithError("the foreign listener was not reported within 10 s");
      break;
    }
    auto latency = std::chrono::duration<double>(*at - foreign.listening_at());
    latencies_ms.push_back(1e3 * latency.count());
    state.SetIterationTime(latency.count());
  }
  report_latencies(state, std::move(latencies_ms));
}
BENCHMARK(ForeignListenerLatency)->Arg(100)->Arg(1000)->Iterations(20)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
