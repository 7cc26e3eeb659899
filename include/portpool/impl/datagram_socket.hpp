#pragma once

// The claim of acquire_datagram(): the port is checked free of UDP sockets on every local address
// (as acquire()'s probe checks a udp port), then a UDP socket is bound on the requested address
// and kept.

#include <portpool/error.hpp>
#include <portpool/impl/bound_socket.hpp>
#include <portpool/impl/port_probe.hpp>
#include <portpool/ip_address.hpp>
#include <portpool/transport.hpp>

#include <sys/socket.h>

#include <fmt/format.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace portpool::detail {

/// A UDP socket bound to `address`:`port`, or nullopt and `refusal` saying why not in the words of
/// `BindProbe`.
/// @throws Error when the socket cannot be registered with the executor's reactor;
/// ResourceError when no socket can be created.
inline std::optional<boost::asio::ip::udp::socket> open_bound_datagram_socket(
    const boost::asio::any_io_executor& executor, const IpAddress& address, std::uint16_t port, std::string& refusal) {
  if (auto problem = probe_every_address(address, port, Transport::udp)) {
    refusal = std::move(*problem);
    return std::nullopt;
  }
  auto bound = bind_socket(address, port, refusal, SOCK_DGRAM);
  if (!bound) {
    return std::nullopt;
  }
  boost::asio::ip::udp::socket socket(executor);
  boost::system::error_code error;
  socket.assign(address.is_v4() ? boost::asio::ip::udp::v4() : boost::asio::ip::udp::v6(), bound.get(), error);
  if (error) {
    throw Error(fmt::format("cannot use the UDP socket of port {}: {}", port, error.message()));
  }
  (void)bound.release();  // the Asio socket owns it now
  return socket;
}

}  // namespace portpool::detail
