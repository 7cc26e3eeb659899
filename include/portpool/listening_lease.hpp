#pragma once

/// @file
/// ListeningLease: a port lease together with the socket already listening on it, and the
/// definitions of `BasicPortPoolManager::acquire_listening()` and `try_acquire_listening()`: include
/// this header to call them. It brings in Boost.Asio, which the core headers do without.

#include <portpool/ip_address_asio.hpp>
#include <portpool/port_lease.hpp>

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <utility>

namespace portpool {

/// A port held exclusively *and* a TCP acceptor already bound and listening on it, as returned
/// by `PortPoolManager::acquire_listening()`.
///
/// The port is first checked free on every local address, as acquire() checks it; then nothing
/// can take it between the check and the listen, since the acceptor keeps it. The
/// acceptor is bound to `Options::probe_address` (IPv4 loopback by default; IPv6 or the any
/// address on request), with SO_REUSEADDR (as servers do) and close-on-exec, and listens with
/// the system's maximum backlog.
///
/// Members are destroyed in reverse order: the acceptor closes first, then the lock is released,
/// so no other holder can be handed the port while this process still listens on it. If you move
/// the acceptor out (into your server), keep the lease alive at least as long.
///
/// Thread safety: `lease` as a PortLease, `acceptor` as Asio's acceptor (shared use through one
/// strand or one thread at a time); assignment and destruction need that no other thread uses it.
///
/// @code
/// boost::asio::io_context io;
/// portpool::PortPoolManager manager("api", {9000, 9001, 9002});
/// portpool::ListeningLease listening = manager.acquire_listening(io.get_executor());
/// listening.acceptor.async_accept([](boost::system::error_code, boost::asio::ip::tcp::socket) {});
/// @endcode
class ListeningLease {
 public:
  /// Pairs `lease` with `acceptor`, which must listen on the lease's port.
  ListeningLease(PortLease held, boost::asio::ip::tcp::acceptor listening)
      : lease(std::move(held)), acceptor(std::move(listening)) {}
  ListeningLease(const ListeningLease&) = delete;
  ListeningLease& operator=(const ListeningLease&) = delete;
  /// Takes over the lease and acceptor of the one moved from, which then holds nothing (its
  /// acceptor closed).
  ListeningLease(ListeningLease&&) noexcept = default;
  /// Closes this lease's old socket before it releases the old lock, as the destructor does.
  ListeningLease& operator=(ListeningLease&& other) noexcept {
    if (this != &other) {
      acceptor = std::move(other.acceptor);
      lease = std::move(other.lease);
    }
    return *this;
  }
  ~ListeningLease() = default;

  PortLease lease;                          ///< the exclusive hold on the port
  boost::asio::ip::tcp::acceptor acceptor;  ///< bound and listening on the lease's port

  /// The port held and listened on.
  std::uint16_t port() const noexcept { return lease.port(); }
};

}  // namespace portpool

#include <portpool/impl/port_pool_manager_listening.hpp>
