// Soak: 8 processes x 4 threads acquire, listen, shield and release continuously on a pool of 4
// ports, for PORTPOOL_SOAK_SECONDS (default 60). Every holder marks its port in shared memory, so
// a port given to two holders at once is seen. Each process also checks that its descriptor count
// and resident memory do not grow between the end of a warm-up and the end of the run.
//
// Labelled `soak` and left out of the default run (scripts/test.sh uses `ctest -LE soak`). Run it
// on demand with:  ctest --test-dir build -L soak --output-on-failure

#include <portpool/port_pool_manager.hpp>
#include <portpool/port_shield.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <new>
#include <string>
#include <thread>
#include <vector>

using namespace portpool;
using namespace portpool::test;

namespace {

constexpr int processes = 8;
constexpr int threads_per_process = 4;
constexpr std::size_t pool_size = 4;
constexpr long allowed_memory_growth_kib = 16L * 1024;

// Lives in memory shared by all the soak processes.
struct Shared {
  std::atomic<int> owner[pool_size];
  std::atomic<long> cycles;
  std::atomic<long> double_assignments;
  std::atomic<long> lost_reports;
};

std::chrono::seconds soak_duration() {
  const char* configured = std::getenv("PORTPOOL_SOAK_SECONDS");
  return std::chrono::seconds(configured != nullptr ? std::atol(configured) : 60);
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

class SoakWorker {
 public:
  SoakWorker(PortPoolManager& manager, Shared& shared, int token) : manager_(manager), shared_(shared), token_(token) {}

  void run_until(std::chrono::steady_clock::time_point deadline) {
    for (long cycle = 0; std::chrono::steady_clock::now() < deadline; ++cycle) {
      boost::asio::io_context io;
      if (cycle % 3 == 0) {
        if (auto listening = manager_.try_acquire_listening(io.get_executor())) {
          hold(listening->lease, io, cycle);
        }
      } else if (auto lease = manager_.try_acquire()) {
        hold(*lease, io, cycle);
      }
    }
  }

 private:
  void hold(const PortLease& lease, boost::asio::io_context& io, long cycle) {
    const auto& pool = manager_.pool();
    auto& owner = shared_.owner[std::find(pool.begin(), pool.end(), lease.port()) - pool.begin()];
    int free = 0;
    if (!owner.compare_exchange_strong(free, token_)) {
      shared_.double_assignments.fetch_add(1);
      return;
    }
    if (cycle % 2 == 0) {
      PortShield shield(io.get_executor(), lease, [this](const ShieldEvent& lost) {
        shared_.lost_reports.fetch_add(1);
        std::cerr << "shield reported: " << lost.message << '\n';
      });
      io.poll();
    }
    owner.store(0);  // before the lease lets go
    shared_.cycles.fetch_add(1);
  }

  PortPoolManager& manager_;
  Shared& shared_;
  int token_;
};

/// How many of this process's descriptors are open files in `directory`. With no lease held, these
/// are the lock files the manager keeps open between holds: at most one per pool port.
std::size_t descriptors_into(const std::filesystem::path& directory) {
  std::size_t count = 0;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ignored)) {
    if (std::filesystem::read_symlink(entry.path(), ignored).parent_path() == directory) {
      ++count;
    }
  }
  return count;
}

/// One soak process: runs its threads for a warm-up, measures, runs again, measures. Exit code 0
/// when nothing grew, 1 for descriptors, 2 for memory, 3 for an exception.
int soak_process(const TempDir& directory, const std::vector<std::uint16_t>& pool, Shared& shared, int process,
                 std::chrono::seconds duration) {
  try {
    PortPoolManager manager("soak", pool, options_in(directory));
    auto run_threads = [&](std::chrono::steady_clock::duration length) {
      auto deadline = std::chrono::steady_clock::now() + length;
      std::vector<std::thread> threads;
      threads.reserve(threads_per_process);
      for (int thread = 0; thread < threads_per_process; ++thread) {
        threads.emplace_back([&, thread] {
          SoakWorker(manager, shared, process * threads_per_process + thread + 1).run_until(deadline);
        });
      }
      for (auto& thread : threads) {
        thread.join();
      }
    };
    // The lock files the manager keeps vary with the ports it released last: counted apart.
    auto other_descriptors = [&] { return open_descriptors() - descriptors_into(directory.lock_dir()); };
    run_threads(duration / 4);
    auto descriptors = other_descriptors();
    auto memory = resident_kib();
    run_threads(duration - duration / 4);
    if (other_descriptors() != descriptors || descriptors_into(directory.lock_dir()) > pool_size) {
      std::cerr << "process " << process << ": " << descriptors << " descriptors after the warm-up, "
                << other_descriptors() << " at the end, besides " << descriptors_into(directory.lock_dir())
                << " lock files kept open\n";
      return 1;
    }
    if (resident_kib() - memory > allowed_memory_growth_kib) {
      std::cerr << "process " << process << ": resident memory grew from " << memory << " to " << resident_kib()
                << " KiB\n";
      return 2;
    }
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "process " << process << ": " << error.what() << '\n';
    return 3;
  }
}

}  // namespace

TEST_CASE("soak: 8 processes x 4 threads on a pool of 4 ports never share a port and grow nothing") {
  TempDir directory;
  auto ports = ReservedPorts::any(pool_size);
  void* memory = ::mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(memory != MAP_FAILED);
  auto* shared = new (memory) Shared{};

  std::vector<pid_t> children;
  for (int process = 0; process < processes; ++process) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::_exit(soak_process(directory, ports.ports(), *shared, process, soak_duration()));
    }
    children.push_back(child);
  }
  for (auto child : children) {
    int status = 0;
    ::waitpid(child, &status, 0);
    CAPTURE(child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  CHECK(shared->double_assignments.load() == 0);
  CHECK(shared->lost_reports.load() == 0);
  CHECK(shared->cycles.load() > 0);
  WARN(shared->cycles.load() << " holds in " << soak_duration().count() << " s");
  ::munmap(memory, sizeof(Shared));
}
