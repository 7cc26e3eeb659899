#pragma once

// "Does any program listen on this port, on any local address of either family?", asked the way
// acquire() must ask it: cheaply, before every hand-out.
//
// One bind answers it. A TCP socket of the IPv6 family with IPV6_V6ONLY off and SO_REUSEADDR on,
// bound to [::]:P, fails with EADDRINUSE when anything listens on P at 127.0.0.1, any other
// 127.x address, 0.0.0.0, ::1, [::] (v6-only or not) or an interface address: a wildcard bind
// overlaps every address, and SO_REUSEADDR forgives only sockets that do not listen (a server's
// connections in TIME_WAIT, say). Where IPv6 is absent or disabled, the IPv4 wildcard covers
// every IPv4 address. This is the same notion of "free" as the shield's (every LISTEN socket on
// the port that is not the service's own is foreign), so a port acquire() hands out is not one
// the shield would call taken a second later.
//
// IPV6_V6ONLY is off by default where net.ipv6.bindv6only is 0 (the kernel's default): the setting
// is read once per process, and the call that turns the option off is made only where it is on, so
// the usual probe costs one system call less. A process that changes network namespace, or an
// administrator who turns bindv6only on while it runs, should know that the first reading stays.
//
// UDP asks the same with a datagram socket bound to [::]:P, without SO_REUSEADDR: it fails when
// any UDP socket is bound to P on any address (a server's, or a client's that drew P as its
// ephemeral port), and the option, which on UDP lets two sockets that both set it share a port,
// would let it pass beside a socket that set it. A `both` port passes both binds.
//
// Only when the bind fails is the socket table read, to name who listens; an acquisition that
// meets several used ports reads it once (the table is kept per thread for a moment).

#include <portpool/detail/message.hpp>
#include <portpool/detail/system_error.hpp>
#include <portpool/impl/bound_socket.hpp>
#include <portpool/impl/listener_table.hpp>
#include <portpool/ip_address.hpp>
#include <portpool/transport.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace portpool::detail {

/// Whether IPv6 sockets of this process's network namespace accept IPv4 too unless told otherwise
/// (net.ipv6.bindv6only is 0), as first read; false when it cannot be read.
inline bool ipv6_sockets_are_dual_stack() {
  static const bool dual_stack = [] {
    UniqueFd setting(::open("/proc/sys/net/ipv6/bindv6only", O_RDONLY | O_CLOEXEC));
    char value = '1';
    return setting && ::read(setting.get(), &value, 1) == 1 && value == '0';
  }();
  return dual_stack;
}

/// 0 when nothing listens on `port` on any local address (`type` SOCK_STREAM), or no UDP socket is
/// bound to it (`type` SOCK_DGRAM); otherwise the bind's errno.
/// @throws ResourceError when no socket can be created (descriptors or memory exhausted).
inline int bind_every_address(std::uint16_t port, int type = SOCK_STREAM) {
  UniqueFd dual_stack(::socket(AF_INET6, type | SOCK_CLOEXEC, 0));
  if (!dual_stack && errno != EAFNOSUPPORT) {
    throw_socket_resource_error(port, errno);
  }
  if (dual_stack) {
    int off = 0;
    int on = 1;
    sockaddr_in6 any{};
    any.sin6_family = AF_INET6;
    any.sin6_port = htons(port);
    any.sin6_addr = in6addr_any;
    if ((ipv6_sockets_are_dual_stack() ||
         ::setsockopt(dual_stack.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) == 0) &&
        (type != SOCK_STREAM || ::setsockopt(dual_stack.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0)) {
      if (::bind(dual_stack.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0) {
        return 0;
      }
      if (errno != EADDRNOTAVAIL && errno != EAFNOSUPPORT) {
        return errno;
      }
    }
  }
  std::string refusal;
  if (bind_socket(IpAddress::any_v4(), port, refusal, type)) {
    return 0;
  }
  return errno;
}

/// The socket table the probe last read on this thread, and when.
struct ProbeListenerTable {
  std::chrono::steady_clock::time_point taken{};
  std::vector<Listener> listeners;
};

/// The listeners on `port` (`type` SOCK_STREAM) or UDP sockets bound to it (SOCK_DGRAM), from a
/// table at most a moment old that shows some (else a new read).
inline std::vector<Listener> listeners_on(std::uint16_t port, int type = SOCK_STREAM) {
  constexpr std::chrono::milliseconds moment{100};
  static thread_local ProbeListenerTable tcp_table;
  static thread_local ProbeListenerTable udp_table;
  auto& table = type == SOCK_STREAM ? tcp_table : udp_table;
  auto on_port = [port, &table] {
    std::vector<Listener> found;
    std::copy_if(table.listeners.begin(), table.listeners.end(), std::back_inserter(found),
                 [port](const Listener& listener) { return listener.port == port; });
    return found;
  };
  auto now = std::chrono::steady_clock::now();
  bool recent = table.taken != std::chrono::steady_clock::time_point{} && now - table.taken < moment;
  if (recent) {
    if (auto found = on_port(); !found.empty()) {
      return found;
    }
  }
  table.listeners = type == SOCK_STREAM ? read_listener_table().listeners : read_udp_socket_table().listeners;
  table.taken = now;
  return on_port();
}

/// Why `port` is not free, naming each listener (or bound UDP socket) as the shield names a
/// foreign one.
inline std::string in_use_refusal(std::uint16_t port, int error, int type = SOCK_STREAM) {
  auto listeners = listeners_on(port, type);
  if (listeners.empty()) {
    return format_message("in use by a program outside portpool (binding it{} failed: {})",
                          {type == SOCK_STREAM ? "" : " for UDP", errno_text(error)});
  }
  std::string where;
  for (const auto& listener : listeners) {
    where += (where.empty() ? "" : ", ") + describe_listener(listener);
  }
  return format_message("in use by a program outside portpool, which {} {}",
                        {type == SOCK_STREAM ? "listens on" : "has a UDP socket bound to", where});
}

/// Why `port` cannot be handed out for sockets of `type`, or nullopt when nothing uses it anywhere
/// (and, for an address other than a loopback or wildcard one, it can be bound there too).
/// @throws ResourceError when no socket can be created.
inline std::optional<std::string> probe_every_address_for(const IpAddress& address, std::uint16_t port, int type) {
  if (int error = bind_every_address(port, type); error != 0) {
    if (error == EADDRINUSE) {
      return in_use_refusal(port, error, type);
    }
    return format_message("cannot be tested{}: binding it on every local address failed: {}",
                          {type == SOCK_STREAM ? "" : " for UDP", errno_text(error)});
  }
  if (!address.is_loopback() && !address.is_unspecified()) {
    std::string refusal;
    if (!bind_socket(address, port, refusal, type)) {
      return refusal;
    }
  }
  return std::nullopt;
}

/// Why `port` cannot be handed out for `transport`, or nullopt when it is free for it: for `both`,
/// free of listeners and of bound UDP sockets.
/// @throws ResourceError when no socket can be created.
inline std::optional<std::string> probe_every_address(const IpAddress& address, std::uint16_t port,
                                                      Transport transport = Transport::tcp) {
  if (uses_tcp(transport)) {
    if (auto problem = probe_every_address_for(address, port, SOCK_STREAM)) {
      return problem;
    }
  }
  if (uses_udp(transport)) {
    return probe_every_address_for(address, port, SOCK_DGRAM);
  }
  return std::nullopt;
}

}  // namespace portpool::detail
