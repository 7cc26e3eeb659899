#pragma once

// Who listens on a TCP port, from the kernel's socket tables, and which of those sockets belong to
// this process (socket inodes found in /proc/self/fd) or to processes a shield was told are the
// service's own (found in /proc/<pid>/fd).
//
// The tables are read through NETLINK_SOCK_DIAG (what `ss` uses), asking for LISTEN sockets only:
// the kernel then walks its listening hash alone. /proc/net/tcp and /proc/net/tcp6 are the
// fallback where sock_diag is not available; they always walk the whole established-connections
// hash, whose size depends on the machine's memory, not on its sockets: on a 24 GiB machine a
// read of the two files costs about 16 ms even with six sockets, against about 80 us for the
// netlink dump.
//
// One snapshot (every LISTEN socket, indexed by port) is shared by every shield of the process
// and re-read only when older than the age a caller accepts. Shields that poll with the same
// interval wake together (their ticks are aligned to the clock), so a whole burst of checks is
// answered by one read. The set of this process's socket inodes, and that of each listener
// process a shield names, is computed at most once per snapshot, and only when a listener on a
// shielded port is not already known to be ours.

#include <portpool/detail/listener.hpp>
#include <portpool/detail/parse_number.hpp>
#include <portpool/unique_fd.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

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

/// The whole contents of a small /proc file (these files report a size of 0, so read to the end).
inline std::optional<std::string> read_proc_file(const char* path) {
  UniqueFd file(::open(path, O_RDONLY | O_CLOEXEC));
  if (!file) {
    return std::nullopt;
  }
  std::string text;
  std::array<char, 16384> chunk{};
  while (true) {
    auto count = ::read(file.get(), chunk.data(), chunk.size());
    if (count < 0) {
      if (errno == EINTR) {
        continue;
      }
      return std::nullopt;
    }
    if (count == 0) {
      return text;
    }
    text.append(chunk.data(), static_cast<std::size_t>(count));
  }
}

/// The next space-separated field of `line` from `position`, advancing it.
inline std::string_view next_field(std::string_view line, std::size_t& position) {
  while (position < line.size() && line[position] == ' ') {
    ++position;
  }
  auto start = position;
  while (position < line.size() && line[position] != ' ') {
    ++position;
  }
  return line.substr(start, position - start);
}

/// The address of a /proc/net/tcp{,6} "local_address" field: 8 (IPv4) or 32 (IPv6) hex digits,
/// each group of 8 being one 32-bit word of the address in network order, printed as a native
/// integer.
inline std::optional<boost::asio::ip::address> parse_proc_address(std::string_view hex) {
  auto word = [&](std::size_t index) -> std::optional<std::uint32_t> {
    return parse_integer<std::uint32_t>(hex.substr(index * 8, 8), 16);
  };
  if (hex.size() == 8) {
    auto value = word(0);
    if (!value) {
      return std::nullopt;
    }
    boost::asio::ip::address_v4::bytes_type bytes{};
    std::memcpy(bytes.data(), &*value, sizeof *value);
    return boost::asio::ip::address(boost::asio::ip::address_v4(bytes));
  }
  if (hex.size() == 32) {
    boost::asio::ip::address_v6::bytes_type bytes{};
    for (std::size_t index = 0; index < 4; ++index) {
      auto value = word(index);
      if (!value) {
        return std::nullopt;
      }
      std::memcpy(bytes.data() + index * 4, &*value, sizeof *value);
    }
    auto v6 = boost::asio::ip::address_v6(bytes);
    if (v6.is_v4_mapped()) {
      return boost::asio::ip::address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
    }
    return boost::asio::ip::address(v6);
  }
  return std::nullopt;
}

/// Adds the LISTEN sockets of one table (the text of /proc/net/tcp or /proc/net/tcp6) to `into`.
inline void parse_listeners(std::string_view table, std::vector<Listener>& into) {
  constexpr std::string_view listen_state = "0A";
  std::size_t line_start = table.find('\n');  // the first line is the header
  while (line_start != std::string_view::npos && line_start + 1 < table.size()) {
    auto line_end = table.find('\n', line_start + 1);
    auto line = table.substr(line_start + 1,
                             line_end == std::string_view::npos ? std::string_view::npos : line_end - line_start - 1);
    line_start = line_end;
    std::size_t position = 0;
    next_field(line, position);  // sl
    auto local = next_field(line, position);
    next_field(line, position);  // rem_address
    if (next_field(line, position) != listen_state) {
      continue;
    }
    for (int skipped = 0; skipped < 5; ++skipped) {  // tx:rx queues, tr:when, retrnsmt, uid, timeout
      next_field(line, position);
    }
    auto inode = parse_integer<std::uint64_t>(next_field(line, position));
    auto colon = local.find(':');
    if (!inode || colon == std::string_view::npos) {
      continue;
    }
    auto address = parse_proc_address(local.substr(0, colon));
    auto port = parse_integer<std::uint16_t>(local.substr(colon + 1), 16);
    if (!address || !port) {
      continue;
    }
    into.push_back(Listener{*inode, *address, *port});
  }
}

/// Adds the LISTEN sockets of `family` (AF_INET or AF_INET6) to `into`, through a
/// NETLINK_SOCK_DIAG dump restricted to the LISTEN state. False when sock_diag cannot be used
/// (no such socket family, refused request, truncated answer): the caller then reads /proc.
inline bool netlink_listeners(int family, std::vector<Listener>& into) {
  UniqueFd socket(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!socket) {
    return false;
  }
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = static_cast<std::uint8_t>(family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = 1U << TCP_LISTEN;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(socket.get(), &message, sizeof message, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) !=
      static_cast<ssize_t>(sizeof message)) {
    return false;
  }
  std::vector<Listener> found;
  alignas(nlmsghdr) std::array<char, 65536> buffer{};
  while (true) {
    auto received = ::recv(socket.get(), buffer.data(), buffer.size(), 0);
    if (received < 0 && errno == EINTR) {
      continue;
    }
    if (received <= 0) {
      return false;
    }
    auto left = static_cast<unsigned>(received);
    for (const auto* header = reinterpret_cast<const nlmsghdr*>(buffer.data()); NLMSG_OK(header, left);
         header = NLMSG_NEXT(header, left)) {
      if (header->nlmsg_type == NLMSG_DONE) {
        into.insert(into.end(), found.begin(), found.end());
        return true;
      }
      if (header->nlmsg_type == NLMSG_ERROR || (header->nlmsg_flags & NLM_F_DUMP_INTR) != 0 ||
          header->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
        return false;
      }
      inet_diag_msg socket_info{};
      std::memcpy(&socket_info, NLMSG_DATA(header), sizeof socket_info);
      boost::asio::ip::address address;
      if (socket_info.idiag_family == AF_INET) {
        boost::asio::ip::address_v4::bytes_type bytes{};
        std::memcpy(bytes.data(), socket_info.id.idiag_src, bytes.size());
        address = boost::asio::ip::address_v4(bytes);
      } else {
        boost::asio::ip::address_v6::bytes_type bytes{};
        std::memcpy(bytes.data(), socket_info.id.idiag_src, bytes.size());
        boost::asio::ip::address_v6 v6(bytes);
        address = v6.is_v4_mapped()
                      ? boost::asio::ip::address(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6))
                      : boost::asio::ip::address(v6);
      }
      found.push_back(Listener{socket_info.idiag_inode, address, ntohs(socket_info.id.idiag_sport)});
    }
  }
}

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

/// Every LISTEN socket of the network namespace at one moment, by port.
class ListenerSnapshot {
 public:
  using Clock = std::chrono::steady_clock;

  /// Reads the kernel's tables now: sock_diag, else /proc/net/tcp and /proc/net/tcp6. An IPv6
  /// table that cannot be read (no IPv6 in the kernel) counts as empty; `complete()` is false
  /// when no table could be read at all.
  static std::shared_ptr<const ListenerSnapshot> read() {
    auto snapshot = std::make_shared<ListenerSnapshot>();
    snapshot->taken_ = Clock::now();
    std::vector<Listener> listeners;
    // A dump can fail when the tables change while it runs: one more try before the slow path.
    auto dump = [&listeners](int family) {
      // NOLINTNEXTLINE(misc-redundant-expression): the retry
      return netlink_listeners(family, listeners) || netlink_listeners(family, listeners);
    };
    if (dump(AF_INET)) {
      snapshot->complete_ = true;
      snapshot->source_ = "sock_diag";
      if (!dump(AF_INET6)) {
        if (auto table = read_proc_file("/proc/net/tcp6")) {
          parse_listeners(*table, listeners);
        }
      }
    } else {
      listeners.clear();
      for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        if (auto table = read_proc_file(path)) {
          snapshot->complete_ = true;
          snapshot->source_ = "/proc/net/tcp";
          parse_listeners(*table, listeners);
        }
      }
    }
    for (auto& listener : listeners) {
      snapshot->by_port_[listener.port].push_back(std::move(listener));
    }
    return snapshot;
  }

  /// The snapshot shared by the whole process, re-read when older than `max_age`.
  static std::shared_ptr<const ListenerSnapshot> shared(std::chrono::nanoseconds max_age) {
    // Never destroyed: a shield with static storage duration may still ask during exit.
    static auto& mutex = *new std::mutex;
    static auto& current = *new std::shared_ptr<const ListenerSnapshot>;
    std::lock_guard guard(mutex);
    if (!current || Clock::now() - current->taken_ > max_age) {
      current = read();
    }
    return current;
  }

  /// The listeners on `port` (any address, IPv4 and IPv6).
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
  /// Where the tables came from: "sock_diag" or "/proc/net/tcp".
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
