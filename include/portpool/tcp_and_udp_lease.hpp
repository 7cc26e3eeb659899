#pragma once

/// @file
/// TcpAndUdpLease: a port of a `both` service held together with a listening TCP acceptor and a
/// bound UDP socket on it, and the definitions of `BasicPortPoolManager::acquire_tcp_and_udp()`
/// and its other forms: include this header to call them. It brings in Boost.Asio.

#include <portpool/ip_address_asio.hpp>
#include <portpool/port_lease.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include <cstdint>
#include <utility>

namespace portpool {

/// A port held exclusively *and* served on TCP and UDP: an acceptor listening on it and a UDP
/// socket bound to it, as returned by `PortPoolManager::acquire_tcp_and_udp()` for a service whose
/// transport is `both` (a DNS server, QUIC beside its TCP fallback).
///
/// The port is checked free of TCP listeners and of UDP sockets on every local address; both
/// sockets are bound to `Options::probe_address`, close-on-exec; the acceptor as a
/// ListeningLease's, the UDP socket as a DatagramLease's.
///
/// Members are destroyed in reverse order: the sockets close first, then the lock is released.
///
/// Thread safety: as ListeningLease and DatagramLease.
///
/// @code
/// boost::asio::io_context io;
/// portpool::Options options;
/// options.transport = portpool::Transport::both;
/// portpool::PortPoolManager manager("dns", {5300, 5301}, options);
/// portpool::TcpAndUdpLease dns = manager.acquire_tcp_and_udp(io.get_executor());
/// dns.acceptor.async_accept([](boost::system::error_code, boost::asio::ip::tcp::socket) {});
/// @endcode
class TcpAndUdpLease {
 public:
  /// Pairs `lease` with `acceptor` and `socket`, which must listen on and be bound to its port.
  TcpAndUdpLease(PortLease held, boost::asio::ip::tcp::acceptor listening, boost::asio::ip::udp::socket bound)
      : lease(std::move(held)), acceptor(std::move(listening)), socket(std::move(bound)) {}
  TcpAndUdpLease(const TcpAndUdpLease&) = delete;
  TcpAndUdpLease& operator=(const TcpAndUdpLease&) = delete;
  /// Takes over the lease and sockets of the one moved from, which then holds nothing.
  TcpAndUdpLease(TcpAndUdpLease&&) noexcept = default;
  /// Closes this lease's old sockets before it releases the old lock, as the destructor does.
  TcpAndUdpLease& operator=(TcpAndUdpLease&& other) noexcept {
    if (this != &other) {
      socket = std::move(other.socket);
      acceptor = std::move(other.acceptor);
      lease = std::move(other.lease);
    }
    return *this;
  }
  ~TcpAndUdpLease() = default;

  PortLease lease;                          ///< the exclusive hold on the port
  boost::asio::ip::tcp::acceptor acceptor;  ///< listening on the lease's port
  boost::asio::ip::udp::socket socket;      ///< bound to the lease's port

  /// The port held, listened on and bound.
  std::uint16_t port() const noexcept { return lease.port(); }
};

}  // namespace portpool

#include <portpool/impl/port_pool_manager_tcp_and_udp.hpp>
