#pragma once

// What the benchmarks share: a private lock directory, ports chosen at run time, more descriptors,
// and a child process that holds a pool so that the measuring process meets locks held elsewhere.

#include <portpool/portpool.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace portpool_bench {

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

/// A private lock directory opened as a descriptor, for the floors' bare *at() calls.
class LockDirDescriptor {
 public:
  LockDirDescriptor() {
    std::filesystem::create_directories(directory_.locks());
    descriptor_ = ::open(directory_.locks().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (descriptor_ < 0) {
      throw std::runtime_error("cannot open the lock directory " + directory_.locks().string());
    }
  }
  LockDirDescriptor(const LockDirDescriptor&) = delete;
  LockDirDescriptor& operator=(const LockDirDescriptor&) = delete;
  LockDirDescriptor(LockDirDescriptor&&) = delete;
  LockDirDescriptor& operator=(LockDirDescriptor&&) = delete;
  ~LockDirDescriptor() { ::close(descriptor_); }
  int get() const { return descriptor_; }
  std::filesystem::path path() const { return directory_.locks(); }

 private:
  TempLockDir directory_;
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

/// A socket bound to 127.0.0.1:port the way portpool binds (SO_REUSEADDR), or an empty one.
inline portpool::UniqueFd bind_on_loopback(std::uint16_t port) {
  std::string refusal;
  return portpool::detail::bind_socket(boost::asio::ip::address_v4::loopback(), port, refusal);
}

/// A socket listening on 127.0.0.1:port, or an empty one (errno says why).
inline portpool::UniqueFd listen_on_loopback(std::uint16_t port) {
  auto socket = bind_on_loopback(port);
  if (socket && ::listen(socket.get(), SOMAXCONN) != 0) {
    socket.reset();
  }
  return socket;
}

/// `count` consecutive ports on which nothing listens right now, on any local address (the
/// library's probe), below the usual ephemeral range (32768 and up) so that outgoing connections do
/// not take them during a run.
inline std::vector<std::uint16_t> free_port_range(std::size_t count, std::uint16_t lowest = 20000) {
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
  PoolHolderProcess(const std::vector<std::uint16_t>& pool, const std::filesystem::path& lock_dir) {
    int ready[2];
    int release[2];
    if (::pipe(ready) != 0 || ::pipe(release) != 0) {
      throw std::runtime_error("pipe failed");
    }
    pid_ = ::fork();
    if (pid_ < 0) {
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(release[1]);
      hold(pool, lock_dir, ready[1], release[0]);
    }
    ::close(ready[1]);
    ::close(release[0]);
    release_ = release[1];
    char answer = 0;
    bool held = ::read(ready[0], &answer, 1) == 1 && answer == 'y';
    ::close(ready[0]);
    if (!held) {
      stop();
      throw std::runtime_error("the holder process could not take its pool");
    }
  }
  PoolHolderProcess(const PoolHolderProcess&) = delete;
  PoolHolderProcess& operator=(const PoolHolderProcess&) = delete;
  PoolHolderProcess(PoolHolderProcess&&) = delete;
  PoolHolderProcess& operator=(PoolHolderProcess&&) = delete;
  ~PoolHolderProcess() { stop(); }

 private:
  // A manager tries its pool from the start, so taking N ports from one manager would cost N^2/2
  // attempts: chunks of 100 ports keep the setup of a 10,000-port pool short.
  static void take_all(const std::vector<std::uint16_t>& pool, const portpool::Options& options,
                       std::vector<portpool::PortLease>& leases) {
    constexpr std::size_t chunk = 100;
    for (std::size_t first = 0; first < pool.size(); first += chunk) {
      std::vector<std::uint16_t> part(pool.begin() + static_cast<std::ptrdiff_t>(first),
                                      pool.begin() + static_cast<std::ptrdiff_t>(std::min(pool.size(), first + chunk)));
      portpool::BasicPortPoolManager<portpool::FileLockPolicy, portpool::NoProbe> manager("holder", part, options);
      for (std::size_t index = 0; index < part.size(); ++index) {
        leases.push_back(manager.acquire());
      }
    }
  }

  [[noreturn]] static void hold(const std::vector<std::uint16_t>& pool, const std::filesystem::path& lock_dir,
                                int ready, int release) {
    raise_descriptor_limit();
    portpool::Options options;
    options.lock_dir = lock_dir;
    std::vector<portpool::PortLease> leases;
    char answer = 'n';
    try {
      take_all(pool, options, leases);
      answer = 'y';
    } catch (const std::exception&) {
      answer = 'n';
    }
    static_cast<void>(::write(ready, &answer, 1));
    char ignored = 0;
    static_cast<void>(::read(release, &ignored, 1));  // returns at end of file: the parent is done
    std::_Exit(0);
  }

  void stop() {
    if (release_ >= 0) {
      ::close(release_);
      release_ = -1;
    }
    if (pid_ > 0) {
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  pid_t pid_ = -1;
  int release_ = -1;
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
