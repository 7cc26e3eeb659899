// K processes start together and race for a pool of K/2 ports; each binds and listens on what it
// gets and holds it until every process has reported. Checks that no port was handed out twice and
// none outside the pool, and reports how long the race took.
//
//   contention_race [--processes 2,8,32,128] [--rounds 10] [--csv FILE]
//
// Each round has its own lock directory and a pool of K/2 consecutive ports free on 127.0.0.1 at
// run time. Children build their manager, say they are ready, and wait for end of file on a
// common pipe that the parent closes once all are ready: that is the start. A child's latency is
// from its own wake-up to a listening socket (or to the empty answer); `since_start` is from the
// parent's start signal, so it includes the time the scheduler takes to wake K processes.
//
// The CSV (one line per process) has the columns of bench/peers/race.py, so that
// bench/summarize.py reads portpool and the peers alike. Exit status 1 when a port was given
// twice, fell outside the pool, or could not be listened on.

#include "bench_support.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <portpool/portpool.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Report {
  std::int64_t woke_at_ns = 0;
  std::int64_t done_at_ns = 0;
  std::uint16_t port = 0;
  int listen_error = 0;
};

struct Pipe {
  int read = -1;
  int write = -1;
};

Pipe open_pipe() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  return {ends[0], ends[1]};
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

void wait_for_end_of_file(int descriptor) {
  char ignored = 0;
  for (;;) {
    auto got = ::read(descriptor, &ignored, 1);
    if (got == 0 || (got < 0 && errno != EINTR)) {
      return;
    }
  }
}

[[noreturn]] void race(const std::vector<std::uint16_t>& pool, const std::filesystem::path& lock_dir, const Pipe& start,
                       const Pipe& ready, const Pipe& reports, const Pipe& hold) {
  ::close(start.write);
  ::close(hold.write);
  ::close(ready.read);
  ::close(reports.read);
  portpool::Options options;
  options.lock_dir = lock_dir;
  portpool::PortPoolManager manager("race", pool, options);
  char one = 'r';
  static_cast<void>(::write(ready.write, &one, 1));
  wait_for_end_of_file(start.read);
  Report report;
  report.woke_at_ns = now_ns();
  auto lease = manager.try_acquire();
  portpool::UniqueFd listener;
  if (lease) {
    report.port = lease->port();
    listener = portpool::test::try_listen_on(report.port);
    report.listen_error = listener ? 0 : errno;
  }
  report.done_at_ns = now_ns();
  static_cast<void>(::write(reports.write, &report, sizeof report));  // atomic: smaller than PIPE_BUF
  wait_for_end_of_file(hold.read);
  std::_Exit(0);
}

bool read_exactly(int descriptor, void* buffer, std::size_t size, std::chrono::milliseconds timeout) {
  auto* bytes = static_cast<char*>(buffer);
  std::size_t done = 0;
  auto deadline = Clock::now() + timeout;
  while (done < size && Clock::now() < deadline) {
    pollfd waiting{descriptor, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (::poll(&waiting, 1, static_cast<int>(std::max<std::int64_t>(1, left.count()))) <= 0) {
      continue;
    }
    auto got = ::read(descriptor, bytes + done, size - done);
    if (got <= 0) {
      return false;
    }
    done += static_cast<std::size_t>(got);
  }
  return done == size;
}

struct RoundResult {
  std::vector<Report> reports;
  std::int64_t started_at_ns = 0;
};

RoundResult run_round(std::size_t processes, const std::vector<std::uint16_t>& pool) {
  portpool::test::TempDir directory;
  auto start = open_pipe();
  auto ready = open_pipe();
  auto reports = open_pipe();
  auto hold = open_pipe();
  std::vector<pid_t> children;
  for (std::size_t index = 0; index < processes; ++index) {
    pid_t child = ::fork();
    if (child == 0) {
      race(pool, directory.lock_dir(), start, ready, reports, hold);
    }
    if (child < 0) {
      throw std::runtime_error("fork failed");
    }
    children.push_back(child);
  }
  ::close(start.read);
  ::close(hold.read);
  ::close(ready.write);
  ::close(reports.write);
  std::vector<char> ready_bytes(processes);
  RoundResult result;
  if (read_exactly(ready.read, ready_bytes.data(), processes, std::chrono::seconds(60))) {
    result.started_at_ns = now_ns();
    ::close(start.write);
    result.reports.resize(processes);
    if (!read_exactly(reports.read, result.reports.data(), processes * sizeof(Report), std::chrono::seconds(60))) {
      result.reports.clear();
    }
  } else {
    ::close(start.write);
  }
  ::close(hold.write);
  for (auto child : children) {
    ::waitpid(child, nullptr, 0);
  }
  ::close(ready.read);
  ::close(reports.read);
  return result;
}

struct Totals {
  std::size_t rounds = 0;
  std::size_t failed_rounds = 0;
  std::size_t double_assignments = 0;
  std::size_t out_of_pool = 0;
  std::size_t listen_failures = 0;
  std::size_t missing_winners = 0;
  std::vector<double> latencies_us;
  std::vector<double> since_start_us;
  std::vector<double> totals_ms;
};

void account(const RoundResult& round, const std::vector<std::uint16_t>& pool, Totals& totals) {
  ++totals.rounds;
  if (round.reports.empty()) {
    ++totals.failed_rounds;
    return;
  }
  std::map<std::uint16_t, std::size_t> holders_of_port;
  std::int64_t last_done = round.started_at_ns;
  for (const auto& report : round.reports) {
    totals.latencies_us.push_back(static_cast<double>(report.done_at_ns - report.woke_at_ns) / 1e3);
    totals.since_start_us.push_back(static_cast<double>(report.done_at_ns - round.started_at_ns) / 1e3);
    last_done = std::max(last_done, report.done_at_ns);
    if (report.port == 0) {
      continue;
    }
    ++holders_of_port[report.port];
    if (std::find(pool.begin(), pool.end(), report.port) == pool.end()) {
      ++totals.out_of_pool;
    }
    if (report.listen_error != 0) {
      ++totals.listen_failures;
    }
  }
  for (const auto& [port, holders] : holders_of_port) {
    totals.double_assignments += holders - 1;
  }
  totals.missing_winners += pool.size() - std::min(pool.size(), holders_of_port.size());
  totals.totals_ms.push_back(static_cast<double>(last_done - round.started_at_ns) / 1e6);
}

void write_csv_rows(std::ostream& csv, std::size_t processes, std::size_t round_index, const RoundResult& round,
                    const std::vector<std::uint16_t>& pool) {
  for (const auto& report : round.reports) {
    csv << "portpool," << processes << ',' << round_index << ',' << pool.front() << ',' << pool.back() << ','
        << report.port << ',' << static_cast<double>(report.done_at_ns - report.woke_at_ns) / 1e3 << ','
        << static_cast<double>(report.done_at_ns - round.started_at_ns) / 1e3 << ','
        << (report.port == 0           ? "none"
            : report.listen_error == 0 ? "ok"
                                       : "failed")
        << '\n';
  }
}

std::string describe(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  std::ostringstream text;
  text.precision(3);
  text << std::fixed << portpool_bench::percentile(values, 0.5) << " / " << portpool_bench::percentile(values, 0.9)
       << " / " << portpool_bench::percentile(values, 0.99) << " / " << (values.empty() ? 0.0 : values.back());
  return text.str();
}

void print_totals(std::size_t processes, std::size_t pool_size, const Totals& totals) {
  std::cout << "K=" << processes << " pool=" << pool_size << " rounds=" << totals.rounds
            << " failed_rounds=" << totals.failed_rounds << " double_assignments=" << totals.double_assignments
            << " out_of_pool=" << totals.out_of_pool << " listen_failures=" << totals.listen_failures
            << " missing_winners=" << totals.missing_winners
            << "\n  total ms p50/p90/p99/max: " << describe(totals.totals_ms)
            << "\n  per-process latency us p50/p90/p99/max: " << describe(totals.latencies_us)
            << "\n  since start signal us p50/p90/p99/max: " << describe(totals.since_start_us) << '\n';
}

std::vector<std::size_t> parse_counts(const std::string& text) {
  std::vector<std::size_t> counts;
  std::istringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    counts.push_back(static_cast<std::size_t>(std::stoul(item)));
  }
  return counts;
}

struct Arguments {
  std::vector<std::size_t> processes{2, 8, 32, 128};
  std::size_t rounds = 10;
  std::string csv_path;
};

Arguments parse_arguments(int argc, char** argv) {
  Arguments arguments;
  for (int index = 1; index + 1 < argc; index += 2) {
    std::string name = argv[index];
    std::string value = argv[index + 1];
    if (name == "--processes") {
      arguments.processes = parse_counts(value);
    } else if (name == "--rounds") {
      arguments.rounds = static_cast<std::size_t>(std::stoul(value));
    } else if (name == "--csv") {
      arguments.csv_path = value;
    } else {
      throw std::invalid_argument("unknown option " + name);
    }
  }
  return arguments;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto arguments = parse_arguments(argc, argv);
    portpool_bench::raise_descriptor_limit();
    std::ofstream csv;
    if (!arguments.csv_path.empty()) {
      csv.open(arguments.csv_path);
      csv << "tool,processes,round,range_first,range_last,port,latency_us,since_start_us,listen\n";
    }
    bool clean = true;
    for (auto processes : arguments.processes) {
      Totals totals;
      for (std::size_t round_index = 0; round_index < arguments.rounds; ++round_index) {
        auto pool = portpool_bench::free_port_range(std::max<std::size_t>(1, processes / 2));
        auto round = run_round(processes, pool);
        account(round, pool, totals);
        if (csv.is_open()) {
          write_csv_rows(csv, processes, round_index, round, pool);
        }
      }
      print_totals(processes, std::max<std::size_t>(1, processes / 2), totals);
      clean = clean && totals.failed_rounds == 0 && totals.double_assignments == 0 && totals.out_of_pool == 0 &&
              totals.listen_failures == 0 && totals.missing_winners == 0;
    }
    return clean ? 0 : 1;
  } catch (const std::exception& error) {
    std::cerr << "contention_race: " << error.what() << '\n';
    return 2;
  }
}
