#pragma once

// Who listens on a TCP port, or has a UDP socket bound to it, from the kernel's socket tables, and
// which of those sockets belong to this process (socket inodes found in /proc/self/fd) or to
// processes a shield was told are the service's own (found in /proc/<pid>/fd).
//
// The tables are read by impl/listener_table.hpp.
//
// One snapshot per socket type (every LISTEN socket, or every bound UDP socket, indexed by port)
// is shared by every shield of the process and re-read only when older than the age a caller
// accepts; the UDP one is read only when a shield watches UDP. Shields that poll with the same
// interval wake together (their ticks are aligned to the clock), so a whole burst of checks is
// answered by one read of each table they need. The set of this process's socket inodes, and that
// of each listener process a shield names, is computed at most once per snapshot, and only when a
// socket on a shielded port is not already known to be ours.

#include <portpool/detail/listener.hpp>
#include <portpool/detail/parse_number.hpp>
#include <portpool/impl/listener_table.hpp>
#include <portpool/unique_fd.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace portpool::detail {

/// The socket inode in a /proc/<pid>/fd link target ("socket:[12345]"), or 0.
inline std::uint64_t socket_inode_of_link(std::string_view target) {
  constexpr std::string_view prefix = "socket:[";
  if (target.size() <= prefix.size() + 1 || target.substr(0, prefix.size()) != prefix || target.back() != ']') {
    return 0;
  }
  return parse_integer<std::uint64_t>(target.substr(prefix.size(), target.size() - prefix.size() - 1)).value_or(0);
}

/// Calls `visit(inode)` for every socket open in the process whose fd directory is `fd_dir`.
template <class Visit>
void for_each_socket_inode(const std::string& fd_dir, Visit&& visit) {
  DIR* directory = ::opendir(fd_dir.c_str());
  if (directory == nullptr) {
    return;
  }
  std::array<char, 64> target{};
  while (const dirent* entry = ::readdir(directory)) {
    if (entry->d_name[0] == '.') {
      continue;
    }
    auto length = ::readlinkat(::dirfd(directory), entry->d_name, target.data(), target.size());
    if (length <= 0) {
      continue;
    }
    if (auto inode = socket_inode_of_link(std::string_view(target.data(), static_cast<std::size_t>(length)))) {
      if (visit(inode)) {
        break;
      }
    }
  }
  ::closedir(directory);
}

/// The inodes of every socket open in the process whose fd directory is `fd_dir`; none when it
/// cannot be read (the process has exited, or belongs to someone we may not look into).
inline std::unordered_set<std::uint64_t> socket_inodes_in(const std::string& fd_dir) {
  std::unordered_set<std::uint64_t> inodes;
  for_each_socket_inode(fd_dir, [&](std::uint64_t inode) {
    inodes.insert(inode);
    return false;
  });
  return inodes;
}

/// The socket inode of an open descriptor, or 0 when it is not a socket.
inline std::uint64_t socket_inode_of_fd(int fd) {
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISSOCK(status.st_mode)) {
    return 0;
  }
  return static_cast<std::uint64_t>(status.st_ino);
}

/// Which process has the socket `inode` open, as "pid N (command)", or empty when no process we
/// may look into has it. Walks /proc: only for reports, never on the idle path.
inline std::string describe_socket_owner(std::uint64_t inode) {
  DIR* processes = ::opendir("/proc");
  if (processes == nullptr) {
    return {};
  }
  std::string found;
  while (const dirent* entry = ::readdir(processes)) {
    std::string_view name(entry->d_name);
    if (name.empty() || name.find_first_not_of("0123456789") != std::string_view::npos) {
      continue;
    }
    bool owns = false;
    for_each_socket_inode(fmt::format("/proc/{}/fd", name), [&](std::uint64_t candidate) {
      owns = candidate == inode;
      return owns;
    });
    if (owns) {
      auto command = read_proc_file(fmt::format("/proc/{}/comm", name).c_str()).value_or(std::string{});
      while (!command.empty() && command.back() == '\n') {
        command.pop_back();
      }
      found = command.empty() ? fmt::format("pid {}", name) : fmt::format("pid {} ({})", name, command);
      break;
    }
  }
  ::closedir(processes);
  return found;
}

/// Every LISTEN socket (`type` SOCK_STREAM), or every bound UDP socket (SOCK_DGRAM), of the network
/// namespace at one moment, by port.
class ListenerSnapshot {
 public:
  using Clock = std::chrono::steady_clock;

  /// Reads the kernel's tables now: the TCP listeners (read_listener_table()) or the bound UDP
  /// sockets (read_udp_socket_table()); `complete()` is false when no table could be read at all.
  static std::shared_ptr<const ListenerSnapshot> read(int type = SOCK_STREAM) {
    auto snapshot = std::make_shared<ListenerSnapshot>();
    snapshot->taken_ = Clock::now();
    auto table = type == SOCK_DGRAM ? read_udp_socket_table() : read_listener_table();
    snapshot->complete_ = table.complete;
    snapshot->source_ = table.source;
    for (const auto& listener : table.listeners) {
      snapshot->by_port_[listener.port].push_back(listener);
    }
    return snapshot;
  }

  /// The snapshot of `type` shared by the whole process, re-read when older than `max_age`.
  static std::shared_ptr<const ListenerSnapshot> shared(std::chrono::nanoseconds max_age, int type = SOCK_STREAM) {
    // Never destroyed: a shield with static storage duration may still ask during exit.
    static auto& mutex = *new std::mutex;
    static auto& listeners = *new std::shared_ptr<const ListenerSnapshot>;
    static auto& udp_sockets = *new std::shared_ptr<const ListenerSnapshot>;
    std::lock_guard guard(mutex);
    auto& current = type == SOCK_DGRAM ? udp_sockets : listeners;
    if (!current || Clock::now() - current->taken_ > max_age) {
      current = read(type);
    }
    return current;
  }

  /// The sockets on `port` (any address, IPv4 and IPv6).
  const std::vector<Listener>& on_port(std::uint16_t port) const {
    static const std::vector<Listener> none;
    auto found = by_port_.find(port);
    return found == by_port_.end() ? none : found->second;
  }

  bool listening(std::uint16_t port, std::uint64_t inode) const {
    const auto& listeners = on_port(port);
    return std::any_of(listeners.begin(), listeners.end(),
                       [inode](const Listener& listener) { return listener.inode == inode; });
  }

  /// The sockets this process had open, scanned once per snapshot, after the tables were read.
  const std::unordered_set<std::uint64_t>& own_inodes() const {
    std::call_once(own_once_, [this] { own_ = socket_inodes_in("/proc/self/fd"); });
    return own_;
  }

  /// Whether the socket `inode` is open in `process`. Its descriptors are scanned once per
  /// snapshot, on the first question about it, after the tables were read; a process that has
  /// exited has no sockets.
  bool open_in_process(pid_t process, std::uint64_t inode) const {
    std::lock_guard guard(processes_mutex_);
    auto found = process_inodes_.find(process);
    if (found == process_inodes_.end()) {
      found = process_inodes_.emplace(process, socket_inodes_in(fmt::format("/proc/{}/fd", process))).first;
    }
    return found->second.count(inode) != 0;
  }

  bool complete() const noexcept { return complete_; }
  /// Where the tables came from: "sock_diag", "/proc/net/tcp" or "/proc/net/udp".
  const char* source() const noexcept { return source_; }
  Clock::time_point taken() const noexcept { return taken_; }

 private:
  Clock::time_point taken_{};
  bool complete_ = false;
  const char* source_ = "none";
  std::unordered_map<std::uint16_t, std::vector<Listener>> by_port_;
  mutable std::once_flag own_once_;
  mutable std::unordered_set<std::uint64_t> own_;
  mutable std::mutex processes_mutex_;
  mutable std::unordered_map<pid_t, std::unordered_set<std::uint64_t>> process_inodes_;
};

}  // namespace portpool::detail
