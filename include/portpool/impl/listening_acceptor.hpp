#pragma once

// The claim of acquire_listening(): the port is checked free on every local address (as
// acquire()'s probe checks it, so both hand out the same ports), then bound on the requested
// address and listened on for real.

#include <portpool/error.hpp>
#include <portpool/impl/bound_socket.hpp>
#include <portpool/impl/port_probe.hpp>
#include <portpool/ip_address.hpp>

#include <sys/socket.h>

#include <fmt/format.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/socket_base.hpp>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

namespace portpool::detail {

/// Listens on `address`:`port`, or says why not in the words of `BindProbe`, so that a skipped
/// port reads the same whichever way it was acquired.
/// @throws Error when the socket cannot be registered with the executor's reactor;
/// ResourceError when no socket can be created.
inline std::optional<boost::asio::ip::tcp::acceptor> open_listening_acceptor(
    const boost::asio::any_io_executor& executor, const IpAddress& address, std::uint16_t port, std::string& refusal) {
  if (auto problem = probe_every_address(address, port)) {
    refusal = std::move(*problem);
    return std::nullopt;
  }
  auto socket = bind_socket(address, port, refusal);
  if (!socket) {
    return std::nullopt;
  }
  if (::listen(socket.get(), boost::asio::socket_base::max_listen_connections) != 0) {
    refusal = bind_failure(address, port, errno);
    return std::nullopt;
  }
  boost::asio::ip::tcp::acceptor acceptor(executor);
  boost::system::error_code error;
  acceptor.assign(address.is_v4() ? boost::asio::ip::tcp::v4() : boost::asio::ip::tcp::v6(), socket.get(), error);
  if (error) {
    throw Error(fmt::format("cannot use the listening socket of port {}: {}", port, error.message()));
  }
  (void)socket.release();  // the acceptor owns it now
  return acceptor;
}

}  // namespace portpool::detail
