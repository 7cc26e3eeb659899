#pragma once

/// @file
/// DatagramLease: a port of a `udp` service held together with a UDP socket already bound to it,
/// and the definitions of `BasicPortPoolManager::acquire_datagram()` and its other forms: include
/// this header to call them. It brings in Boost.Asio, which the core headers do without.

#include <portpool/ip_address_asio.hpp>
#include <portpool/port_lease.hpp>

#include <boost/asio/ip/udp.hpp>

#include <cstdint>
#include <utility>

namespace portpool {

/// A port held exclusively *and* a UDP socket already bound to it, as returned by
/// `PortPoolManager::acquire_datagram()` for a service whose transport is `udp`.
///
/// The port is first checked free of UDP sockets on every local address, as acquire() checks a
/// udp port; then nothing can take it between the check and the bind, since the socket keeps it.
/// The socket is bound to `Options::probe_address` (IPv4 loopback by default), close-on-exec and
/// without SO_REUSEADDR, so no other socket can be bound to the port beside it.
///
/// Members are destroyed in reverse order: the socket closes first, then the lock is released. If
/// you move the socket out (into your server), keep the lease alive at least as long.
///
/// Thread safety: `lease` as a PortLease, `socket` as Asio's socket (shared use through one strand
/// or one thread at a time); assignment and destruction need that no other thread uses it.
///
/// @code
/// boost::asio::io_context io;
/// portpool::Options options;
/// options.transport = portpool::Transport::udp;
/// portpool::PortPoolManager manager("discovery", {5350, 5351}, options);
/// portpool::DatagramLease datagram = manager.acquire_datagram(io.get_executor());
/// std::array<char, 512> buffer;
/// boost::asio::ip::udp::endpoint sender;
/// datagram.socket.async_receive_from(boost::asio::buffer(buffer), sender,
///                                    [](boost::system::error_code, std::size_t) {});
/// @endcode
class DatagramLease {
 public:
  /// Pairs `lease` with `socket`, which must be bound to the lease's port.
  DatagramLease(PortLease held, boost::asio::ip::udp::socket bound)
      : lease(std::move(held)), socket(std::move(bound)) {}
  DatagramLease(const DatagramLease&) = delete;
  DatagramLease& operator=(const DatagramLease&) = delete;
  /// Takes over the lease and socket of the one moved from, which then holds nothing (its socket
  /// closed).
  DatagramLease(DatagramLease&&) noexcept = default;
  /// Closes this lease's old socket before it releases the old lock, as the destructor does.
  DatagramLease& operator=(DatagramLease&& other) noexcept {
    if (this != &other) {
      socket = std::move(other.socket);
      lease = std::move(other.lease);
    }
    return *this;
  }
  ~DatagramLease() = default;

  PortLease lease;                      ///< the exclusive hold on the port
  boost::asio::ip::udp::socket socket;  ///< bound to the lease's port

  /// The port held and bound.
  std::uint16_t port() const noexcept { return lease.port(); }
};

}  // namespace portpool

#include <portpool/impl/port_pool_manager_datagram.hpp>
