#pragma once

// Who listens on a TCP port, or has a UDP socket bound to one, from the kernel's socket tables:
// what the bind probe reads to name a port's users, and what the shield's snapshots
// (impl/socket_table.hpp) are made of.
//
// The tables are read through NETLINK_SOCK_DIAG (what `ss` uses), asking for LISTEN sockets only
// for TCP: the kernel then walks its listening hash alone. /proc/net/tcp and /proc/net/tcp6 are
// the fallback where sock_diag is not available; they always walk the whole
// established-connections hash, whose size depends on the machine's memory, not on its sockets: on
// a 24 GiB machine a read of the two files costs about 16 ms even with six sockets, against about
// 80 us for the netlink dump. UDP has one table, read whole either way.

#include <portpool/detail/listener.hpp>
#include <portpool/detail/parse_number.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
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

/// A listener's address from the 4 (IPv4) or 16 (IPv6) bytes at `bytes`, in network order. An
/// IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address.
inline ListenerAddress listener_address(const std::uint8_t* bytes, bool is_v6) noexcept {
  constexpr std::array<std::uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  ListenerAddress address;
  if (is_v6 && std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), bytes)) {
    std::copy(bytes + 12, bytes + 16, address.bytes.begin());
    return address;
  }
  address.is_v6 = is_v6;
  std::copy(bytes, bytes + (is_v6 ? 16 : 4), address.bytes.begin());
  return address;
}

/// The address of a /proc/net/tcp{,6} "local_address" field: 8 (IPv4) or 32 (IPv6) hex digits,
/// each group of 8 being one 32-bit word of the address in network order, printed as a native
/// integer.
inline std::optional<ListenerAddress> parse_proc_address(std::string_view hex) {
  if (hex.size() != 8 && hex.size() != 32) {
    return std::nullopt;
  }
  std::array<std::uint8_t, 16> bytes{};
  for (std::size_t index = 0; index < hex.size() / 8; ++index) {
    auto value = parse_integer<std::uint32_t>(hex.substr(index * 8, 8), 16);
    if (!value) {
      return std::nullopt;
    }
    std::memcpy(bytes.data() + index * 4, &*value, sizeof *value);
  }
  return listener_address(bytes.data(), hex.size() == 32);
}

/// Adds the sockets of one table (the text of /proc/net/tcp{,6} or /proc/net/udp{,6}) to `into`:
/// those in `state` (two hex digits as the table prints them, "0A" for LISTEN), or all of them when
/// `state` is empty.
inline void parse_proc_sockets(std::string_view table, std::string_view state, std::vector<Listener>& into) {
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
    if (auto socket_state = next_field(line, position); !state.empty() && socket_state != state) {
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

/// Adds the LISTEN sockets of one table (the text of /proc/net/tcp or /proc/net/tcp6) to `into`.
inline void parse_listeners(std::string_view table, std::vector<Listener>& into) {
  parse_proc_sockets(table, "0A", into);
}

/// Adds the sockets of `family` (AF_INET or AF_INET6) and `protocol` (IPPROTO_TCP or IPPROTO_UDP)
/// whose state is in the bit set `states` to `into`, through a NETLINK_SOCK_DIAG dump. False when
/// sock_diag cannot be used (no such socket family, refused request, truncated answer): the
/// caller then reads /proc.
inline bool netlink_sockets(int family, std::uint8_t protocol, std::uint32_t states, std::vector<Listener>& into) {
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
  message.request.sdiag_protocol = protocol;
  message.request.idiag_states = states;
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
      std::array<std::uint8_t, 16> source{};
      std::memcpy(source.data(), socket_info.id.idiag_src, source.size());
      auto address = listener_address(source.data(), socket_info.idiag_family != AF_INET);
      found.push_back(Listener{socket_info.idiag_inode, address, ntohs(socket_info.id.idiag_sport)});
    }
  }
}

/// Adds the LISTEN sockets of `family` (AF_INET or AF_INET6) to `into`, through sock_diag (see
/// netlink_sockets()).
inline bool netlink_listeners(int family, std::vector<Listener>& into) {
  return netlink_sockets(family, IPPROTO_TCP, 1U << TCP_LISTEN, into);
}

/// Every LISTEN socket of the network namespace at one moment.
struct ListenerTable {
  bool complete = false;        ///< false when no table could be read at all
  const char* source = "none";  ///< "sock_diag" or "/proc/net/tcp"
  std::vector<Listener> listeners;
};

/// Reads the kernel's tables now: sock_diag, else /proc/net/tcp and /proc/net/tcp6. An IPv6
/// table that cannot be read (no IPv6 in the kernel) counts as empty.
inline ListenerTable read_listener_table() {
  ListenerTable table;
  // A dump can fail when the tables change while it runs: one more try before the slow path.
  auto dump = [&table](int family) {
    // NOLINTNEXTLINE(misc-redundant-expression): the retry
    return netlink_listeners(family, table.listeners) || netlink_listeners(family, table.listeners);
  };
  if (dump(AF_INET)) {
    table.complete = true;
    table.source = "sock_diag";
    if (!dump(AF_INET6)) {
      if (auto text = read_proc_file("/proc/net/tcp6")) {
        parse_listeners(*text, table.listeners);
      }
    }
  } else {
    table.listeners.clear();
    for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
      if (auto text = read_proc_file(path)) {
        table.complete = true;
        table.source = "/proc/net/tcp";
        parse_listeners(*text, table.listeners);
      }
    }
  }
  return table;
}

/// Reads the kernel's UDP tables now: every UDP socket bound to a port (the ones a datagram
/// service's port must be free of, connected ones included), through sock_diag, else
/// /proc/net/udp and /proc/net/udp6. The entries are Listeners of type SOCK_DGRAM: a bound UDP
/// socket is what "listens" for datagrams.
inline ListenerTable read_udp_socket_table() {
  ListenerTable table;
  constexpr std::uint32_t every_state = ~0U;
  auto dump = [&table](int family) {
    // NOLINTNEXTLINE(misc-redundant-expression): the retry
    return netlink_sockets(family, IPPROTO_UDP, every_state, table.listeners) ||
           netlink_sockets(family, IPPROTO_UDP, every_state, table.listeners);
  };
  if (dump(AF_INET)) {
    table.complete = true;
    table.source = "sock_diag";
    if (!dump(AF_INET6)) {
      if (auto text = read_proc_file("/proc/net/udp6")) {
        parse_proc_sockets(*text, {}, table.listeners);
      }
    }
  } else {
    table.listeners.clear();
    for (const char* path : {"/proc/net/udp", "/proc/net/udp6"}) {
      if (auto text = read_proc_file(path)) {
        table.complete = true;
        table.source = "/proc/net/udp";
        parse_proc_sockets(*text, {}, table.listeners);
      }
    }
  }
  // A socket that was never bound (port 0) is not on any port.
  table.listeners.erase(std::remove_if(table.listeners.begin(), table.listeners.end(),
                                       [](const Listener& socket) { return socket.port == 0; }),
                        table.listeners.end());
  for (auto& socket : table.listeners) {
    socket.type = SOCK_DGRAM;
  }
  return table;
}

}  // namespace portpool::detail
