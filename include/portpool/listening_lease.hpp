#pragma once

/// @file
/// ListeningLease: a port lease together with the socket already listening on it.

#include <portpool/detail/bound_socket.hpp>
#include <portpool/error.hpp>
#include <portpool/port_lease.hpp>

#include <sys/socket.h>

#include <fmt/format.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

namespace portpool {

/// A port held exclusively *and* a TCP acceptor already bound and listening on it, as returned
/// by `PortPoolManager::acquire_listening()`.
///
/// Nothing can take the port between the check and the listen: the acceptor *is* the check. The
/// acceptor is bound to `Options::probe_address` (IPv4 loopback by default; IPv6 or the any
/// address on request), with SO_REUSEADDR (as servers do) and close-on-exec, and listens with
/// the system's maximum backlog.
///
/// Members are destroyed in reverse order: the acceptor closes first, then the lock is released,
/// so no other holder can be handed the port while this process still listens on it. If you move
/// the acceptor out (into your server), keep the lease alive at least as long.
///
/// @code
/// boost::asio::io_context io;
/// portpool::PortPoolManager manager("api-server", {9000, 9001, 9002});
/// portpool::ListeningLease listening = manager.acquire_listening(io.get_executor());
/// listening.acceptor.async_accept([](boost::system::error_code, boost::asio::ip::tcp::socket) {});
/// @endcode
struct ListeningLease {
  PortLease lease;                          ///< the exclusive hold on the port
  boost::asio::ip::tcp::acceptor acceptor;  ///< bound and listening on the lease's port

  /// The port held and listened on.
  std::uint16_t port() const noexcept { return lease.port(); }
};

namespace detail {

/// Binds and listens on `address`:`port`, or says why not in the words of `BindProbe`, so that
/// a skipped port reads the same whichever way it was acquired.
/// @throws Error when the socket cannot be registered with the executor's reactor.
inline std::optional<boost::asio::ip::tcp::acceptor> open_listening_acceptor(
    const boost::asio::any_io_executor& executor, const boost::asio::ip::address& address, std::uint16_t port,
    std::string& refusal) {
  auto socket = bind_socket(address, port, refusal);
  if (!socket) {
    return std::nullopt;
  }
  if (::listen(socket.get(), boost::asio::socket_base::max_listen_connections) != 0) {
    refusal = bind_failure(address, port, errno);
    return std::nullopt;
  }
  boost::asio::ip::tcp::endpoint endpoint(address, port);
  boost::asio::ip::tcp::acceptor acceptor(executor);
  boost::system::error_code error;
  acceptor.assign(endpoint.protocol(), socket.get(), error);
  if (error) {
    throw Error(fmt::format("cannot use the listening socket of port {}: {}", port, error.message()));
  }
  (void)socket.release();  // the acceptor owns it now
  return acceptor;
}

}  // namespace detail

}  // namespace portpool
