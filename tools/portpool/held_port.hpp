#pragma once

// A port that `run` or `lease` holds: its lock alone, or with the sockets of the service's
// transport bound to it (--socket, --socket-path), which are handed to CMD or to clients.

#include <portpool/datagram_lease.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/tcp_and_udp_lease.hpp>

#include <optional>
#include <string>
#include <vector>

namespace portpool::cli {

/// At most one member is set: the lock alone, a tcp service's listening socket, a udp service's
/// bound datagram socket, or a both service's two sockets.
struct HeldPort {
  std::optional<PortLease> lease;
  std::optional<ListeningLease> listening;
  std::optional<DatagramLease> datagram;
  std::optional<TcpAndUdpLease> tcp_and_udp;

  /// Whether a port is held.
  bool holds() const noexcept;

  /// The lease of the port held (holds() must be true).
  PortLease& port();
  const PortLease& port() const;

  /// The sockets bound to the port, in the order they are handed over: the TCP socket first; empty
  /// for the lock alone.
  std::vector<int> sockets();

  /// Their names, for LISTEN_FDNAMES: the service for one socket, "tcp" and "udp" for both.
  std::vector<std::string> socket_names() const;
};

}  // namespace portpool::cli
