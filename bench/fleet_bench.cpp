// The fleet registry at scale: 100 simulated hosts x 100 holders against one local etcd.
//
//   fleet_bench [--etcd URL] [--cli PATH] [--hosts N] [--holders N] [--changes N] [--rate PER_S]
//               [--idle-seconds S] [--linger S]
//
// Without --etcd it starts its own etcd (Debian's etcd-server) on free loopback ports. Each host
// is a lock directory with its holders (held by this process, no probe) and a Publisher thread
// with its own host id and etcd connection, exactly what `portpool publish` runs. It reports:
//   - initial sync: time until the whole fleet is in etcd;
//   - listing: read_fleet() over every holder (p50 of 10), and `portpool status --fleet --json`
//     as a process (with --cli), wall time;
//   - propagation: time from a release or an acquisition on some host to a watching reader seeing
//     it, p50/p99 over --changes changes made at --rate changes per second;
//   - etcd writes per second during that churn (revisions per second), and the most the agents
//     sustain when changes come as fast as they can;
//   - the idle CPU of a real `portpool publish` process mirroring one host (with --cli).
// --linger S keeps the fleet in etcd S seconds after the initial sync, to profile readers.

#include "bench_support.hpp"
#include "etcd_server.hpp"
#include "temp_dir.hpp"

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_view.hpp>
#include <portpool/fleet/publisher.hpp>
#include <portpool/port_pool_manager.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace portpool;
using Clock = std::chrono::steady_clock;
using Manager = BasicPortPoolManager<FileLockPolicy, NoProbe>;
constexpr std::uint16_t first_port = 20000;
constexpr const char* prefix = "/portpool-bench";

struct Settings {
  std::string etcd;
  std::string cli;
  int hosts = 100;
  int holders = 100;
  int changes = 1000;
  double rate = 50;
  int idle_seconds = 10;
  int linger_seconds = 0;
};

Settings parse(int argc, char** argv) {
  Settings settings;
  for (int index = 1; index + 1 < argc; index += 2) {
    std::string name = argv[index];
    std::string value = argv[index + 1];
    if (name == "--etcd") {
      settings.etcd = value;
    } else if (name == "--cli") {
      settings.cli = value;
    } else if (name == "--hosts") {
      settings.hosts = std::stoi(value);
    } else if (name == "--holders") {
      settings.holders = std::stoi(value);
    } else if (name == "--changes") {
      settings.changes = std::stoi(value);
    } else if (name == "--rate") {
      settings.rate = std::stod(value);
    } else if (name == "--linger") {
      settings.linger_seconds = std::stoi(value);
    } else if (name == "--idle-seconds") {
      settings.idle_seconds = std::stoi(value);
    } else {
      throw std::runtime_error("unknown option " + name);
    }
  }
  return settings;
}

double milliseconds(Clock::duration duration) { return std::chrono::duration<double, std::milli>(duration).count(); }

double percentile(std::vector<double> values, double fraction) {
  std::sort(values.begin(), values.end());
  return portpool_bench::percentile(values, fraction);
}

std::string host_name(int index) { return fmt::format("host-{:03}", index); }

struct Host {
  std::unique_ptr<test::TempDir> directory;
  std::unique_ptr<Manager> manager;
  std::map<std::uint16_t, PortLease> leases;
  std::unique_ptr<fleet::Publisher> publisher;
  std::thread agent;
};

// Watches the fleet and records when each key was last seen changing.
class Observer {
 public:
  Observer(fleet::EtcdClient& etcd, std::int64_t revision)
      : watch_(etcd.watch_prefix(fleet::hosts_prefix(prefix), revision + 1)), thread_([this] { run(); }) {}
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;
  Observer(Observer&&) = delete;
  Observer& operator=(Observer&&) = delete;
  ~Observer() {
    watch_->cancel();
    thread_.join();
  }

  // Waits until `key` was seen deleted (or put) after `since`; the time it was seen.
  std::optional<Clock::time_point> seen(const std::string& key, bool deleted, Clock::time_point since) {
    std::unique_lock lock(mutex_);
    bool found = changed_.wait_for(lock, std::chrono::seconds(10), [&] {
      auto entry = seen_.find(key);
      return entry != seen_.end() && entry->second.deleted == deleted && entry->second.when >= since;
    });
    return found ? std::optional<Clock::time_point>(seen_[key].when) : std::nullopt;
  }

 private:
  struct Sighting {
    bool deleted = false;
    Clock::time_point when;
  };

  void run() {
    fleet::WatchBatch batch;
    while (watch_->next(batch)) {
      auto now = Clock::now();
      std::lock_guard guard(mutex_);
      for (const auto& event : batch.events) {
        seen_[event.value.key] = Sighting{event.type == fleet::WatchEvent::Type::deleted, now};
      }
      changed_.notify_all();
    }
  }

  std::unique_ptr<fleet::EtcdWatch> watch_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, Sighting> seen_;
  std::thread thread_;
};

struct ProcessTimes {
  double wall_ms = 0;
  double cpu_ms = 0;  // user + system
};

ProcessTimes run_cli_status(const Settings& settings, bool json) {
  auto start = Clock::now();
  pid_t child = ::fork();
  if (child == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::execl(settings.cli.c_str(), settings.cli.c_str(), "status", "--fleet", json ? "--json" : "--fleet", "--etcd",
            settings.etcd.c_str(), "--prefix", prefix, static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  ::wait4(child, &status, 0, &usage);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("portpool status --fleet failed");
  }
  auto cpu = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) * 1e3 + static_cast<double>(time.tv_usec) / 1e3;
  };
  return {milliseconds(Clock::now() - start), cpu(usage.ru_utime) + cpu(usage.ru_stime)};
}

double process_cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto fields = text.substr(text.rfind(')') + 2);
  std::istringstream stream(fields);
  std::string field;
  double ticks = 0;
  for (int index = 3; index <= 15 && stream >> field; ++index) {
    if (index == 14 || index == 15) {  // utime, stime
      ticks += std::stod(field);
    }
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The idle CPU of one `portpool publish` process mirroring `lock_dir`, as % of one core.
double idle_agent_cpu(const Settings& settings, const std::filesystem::path& lock_dir, fleet::EtcdClient& etcd,
                      int holders) {
  pid_t agent = ::fork();
  if (agent == 0) {
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    ::execl(settings.cli.c_str(), settings.cli.c_str(), "publish", "--etcd", settings.etcd.c_str(), "--prefix", prefix,
            "--host-id", "idle-host", "--lock-dir", lock_dir.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  auto host_prefix = fleet::host_ports_prefix(prefix, "idle-host");
  test::wait_until([&] { return static_cast<int>(etcd.range_prefix(host_prefix).values.size()) == holders; },
                   std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto before = process_cpu_seconds(agent);
  auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(settings.idle_seconds));
  auto used = process_cpu_seconds(agent) - before;
  auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ::kill(agent, SIGTERM);
  ::waitpid(agent, nullptr, 0);
  return 100.0 * used / elapsed;
}

}  // namespace

namespace {

int run_benchmark(int argc, char** argv) {
  auto settings = parse(argc, argv);
  portpool_bench::raise_descriptor_limit();
  test::TempDir scratch;
  std::optional<test::EtcdServer> own_etcd;
  if (settings.etcd.empty()) {
    own_etcd = test::start_etcd(scratch.path() / "etcd");
    settings.etcd = own_etcd->endpoint();
  }
  fleet::EtcdOptions etcd_options;
  etcd_options.endpoints = {settings.etcd};
  etcd_options.request_timeout = std::chrono::seconds(30);
  fleet::EtcdClient etcd(etcd_options);
  auto total = settings.hosts * settings.holders;
  std::cout << fmt::format("fleet_bench: {} hosts x {} holders = {} holders, etcd {}\n", settings.hosts,
                           settings.holders, total, settings.etcd);

  std::vector<std::uint16_t> pool;
  pool.reserve(static_cast<std::size_t>(settings.holders));
  for (int index = 0; index < settings.holders; ++index) {
    pool.push_back(static_cast<std::uint16_t>(first_port + index));
  }
  std::vector<Host> hosts(static_cast<std::size_t>(settings.hosts));
  for (int index = 0; index < settings.hosts; ++index) {
    auto& host = hosts[static_cast<std::size_t>(index)];
    host.directory = std::make_unique<test::TempDir>();
    Options options;
    options.lock_dir = host.directory->lock_dir();
    host.manager = std::make_unique<Manager>("bench-service", pool, options);
    for (int holder = 0; holder < settings.holders; ++holder) {
      auto lease = host.manager->acquire();
      auto port = lease.port();
      host.leases.emplace(port, std::move(lease));
    }
  }

  auto sync_start = Clock::now();
  for (int index = 0; index < settings.hosts; ++index) {
    auto& host = hosts[static_cast<std::size_t>(index)];
    fleet::PublisherOptions options;
    options.etcd = etcd_options;
    options.host_id = host_name(index);
    options.prefix = prefix;
    options.registry.lock_dir = host.directory->lock_dir();
    options.address_host = "10.0.0.1";
    host.publisher = std::make_unique<fleet::Publisher>(options);
    host.agent = std::thread([publisher = host.publisher.get()] { publisher->run(); });
  }
  test::wait_until([&] { return static_cast<int>(fleet::read_fleet(etcd, prefix).holders.size()) == total; },
                   std::chrono::seconds(300));
  std::cout << fmt::format("initial sync of {} holders: {:.0f} ms\n", total, milliseconds(Clock::now() - sync_start));

  if (settings.linger_seconds > 0) {
    std::cout << fmt::format("lingering {} s: portpool status --fleet --etcd {} --prefix {}", settings.linger_seconds,
                             settings.etcd, prefix)
              << std::endl;
    std::this_thread::sleep_for(std::chrono::seconds(settings.linger_seconds));
  }
  std::vector<double> ranges;
  for (int run = 0; run < 10; ++run) {
    auto start = Clock::now();
    auto range = etcd.range_prefix(fleet::hosts_prefix(prefix));
    ranges.push_back(milliseconds(Clock::now() - start));
  }
  std::cout << fmt::format("etcd range of {} keys alone: p50 {:.1f} ms\n", total, percentile(ranges, 0.5));
  std::vector<double> listing;
  for (int run = 0; run < 10; ++run) {
    auto start = Clock::now();
    auto snapshot = fleet::read_fleet(etcd, prefix);
    listing.push_back(milliseconds(Clock::now() - start));
    if (static_cast<int>(snapshot.holders.size()) != total) {
      throw std::runtime_error("the fleet listing is incomplete");
    }
  }
  std::cout << fmt::format("read_fleet over {} holders: p50 {:.1f} ms, max {:.1f} ms\n", total,
                           percentile(listing, 0.5), percentile(listing, 1.0));
  if (!settings.cli.empty()) {
    for (bool json : {false, true}) {
      std::vector<double> wall;
      std::vector<double> cpu;
      for (int run = 0; run < 5; ++run) {
        auto times = run_cli_status(settings, json);
        wall.push_back(times.wall_ms);
        cpu.push_back(times.cpu_ms);
      }
      std::cout << fmt::format(
          "portpool status --fleet{} over {} holders (process): wall p50 {:.0f} ms (max {:.0f}), CPU p50 {:.0f} ms\n",
          json ? " --json" : "", total, percentile(wall, 0.5), percentile(wall, 1.0), percentile(cpu, 0.5));
    }
  }

  // Steady churn: each change releases a random holder, or takes its port back.
  auto start_revision = etcd.range_prefix("/portpool-bench-revision").revision;
  std::vector<double> latencies;
  {
    Observer observer(etcd, start_revision);
    std::mt19937 random(42);
    std::uniform_int_distribution<int> pick_host(0, settings.hosts - 1);
    std::uniform_int_distribution<int> pick_port(0, settings.holders - 1);
    auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / settings.rate));
    auto churn_start = Clock::now();
    auto next = churn_start;
    for (int change = 0; change < settings.changes; ++change) {
      std::this_thread::sleep_until(next);
      next += interval;
      auto host_index = pick_host(random);
      auto& host = hosts[static_cast<std::size_t>(host_index)];
      auto port = static_cast<std::uint16_t>(first_port + pick_port(random));
      auto key = fleet::port_key(prefix, host_name(host_index), port);
      auto held = host.leases.find(port);
      auto when = Clock::now();
      bool deleted = held != host.leases.end();
      if (deleted) {
        host.leases.erase(held);
      } else {
        host.leases.emplace(port, Manager("bench-service", {port}, host.manager->options()).acquire());
      }
      if (auto seen = observer.seen(key, deleted, when)) {
        latencies.push_back(milliseconds(*seen - when));
      } else {
        std::cout << "a change was not seen within 10 s: " << key << '\n';
      }
    }
    auto elapsed = std::chrono::duration<double>(Clock::now() - churn_start).count();
    auto end_revision = etcd.range_prefix("/portpool-bench-revision").revision;
    std::cout << fmt::format(
        "propagation at {:.0f} changes/s over {} changes: p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms\n", settings.rate,
        latencies.size(), percentile(latencies, 0.5), percentile(latencies, 0.99), percentile(latencies, 1.0));
    std::cout << fmt::format("etcd writes during that churn: {:.1f} per second ({} revisions in {:.1f} s)\n",
                             static_cast<double>(end_revision - start_revision) / elapsed,
                             end_revision - start_revision, elapsed);
  }

  // As fast as the agents go: four threads, each owning every fourth host, take and give back
  // ports without pause; the agents coalesce what they find changed since their last look.
  {
    auto before = etcd.range_prefix("/portpool-bench-revision").revision;
    auto burst_start = Clock::now();
    auto until = burst_start + std::chrono::seconds(5);
    std::atomic<long> local_changes{0};
    std::vector<std::thread> churners;
    churners.reserve(4);
    for (int worker = 0; worker < 4; ++worker) {
      churners.emplace_back([&, worker] {
        std::mt19937 random(static_cast<unsigned>(worker));
        std::uniform_int_distribution<int> pick_port(0, settings.holders - 1);
        for (int index = worker; Clock::now() < until; index = (index + 4) % settings.hosts) {
          auto& host = hosts[static_cast<std::size_t>(index)];
          auto port = static_cast<std::uint16_t>(first_port + pick_port(random));
          if (auto held = host.leases.find(port); held != host.leases.end()) {
            host.leases.erase(held);
          } else {
            host.leases.emplace(port, Manager("bench-service", {port}, host.manager->options()).acquire());
          }
          ++local_changes;
        }
      });
    }
    for (auto& churner : churners) {
      churner.join();
    }
    auto burst = std::chrono::duration<double>(Clock::now() - burst_start).count();
    auto during = etcd.range_prefix("/portpool-bench-revision").revision - before;
    long expected = 0;
    for (const auto& host : hosts) {
      expected += static_cast<long>(host.leases.size());
    }
    auto caught_up = Clock::now();
    test::wait_until([&] { return static_cast<long>(fleet::read_fleet(etcd, prefix).holders.size()) == expected; },
                     std::chrono::seconds(120));
    std::cout << fmt::format(
        "saturated churn: {} local changes in {:.1f} s ({:.0f}/s); {} etcd writes meanwhile ({:.0f}/s; the agents "
        "coalesce changes made between two looks); etcd exact again {:.0f} ms after the burst\n",
        local_changes.load(), burst, static_cast<double>(local_changes.load()) / burst, during,
        static_cast<double>(during) / burst, milliseconds(Clock::now() - caught_up));
  }

  if (!settings.cli.empty()) {
    // A host of its own, untouched by the churn, mirrored by a real agent process.
    test::TempDir idle_host;
    Options options;
    options.lock_dir = idle_host.lock_dir();
    Manager manager("bench-service", pool, options);
    std::vector<PortLease> leases;
    leases.reserve(static_cast<std::size_t>(settings.holders));
    for (int holder = 0; holder < settings.holders; ++holder) {
      leases.push_back(manager.acquire());
    }
    auto cpu = idle_agent_cpu(settings, idle_host.lock_dir(), etcd, settings.holders);
    std::cout << fmt::format("idle `portpool publish` with {} holders: {:.3f}% of one core over {} s\n",
                             settings.holders, cpu, settings.idle_seconds);
  }

  fleet::PublisherStats totals;
  for (const auto& host : hosts) {
    auto stats = host.publisher->stats();
    totals.sessions += stats.sessions;
    totals.resyncs += stats.resyncs;
    totals.puts += stats.puts;
    totals.deletes += stats.deletes;
    totals.failures += stats.failures;
  }
  std::cout << fmt::format("agents in all: {} sessions, {} resyncs, {} puts, {} CAS deletes, {} failures\n",
                           totals.sessions, totals.resyncs, totals.puts, totals.deletes, totals.failures);
  for (auto& host : hosts) {
    host.publisher->stop();
  }
  for (auto& host : hosts) {
    host.agent.join();
  }
  if (own_etcd) {
    test::stop_etcd(own_etcd->pid);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run_benchmark(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "fleet_bench: " << error.what() << '\n';
    return 1;
  }
}
