#pragma once

/// @file
/// Probe policies: how a manager checks that a locked port can really be bound.

#include <portpool/detail/system_error.hpp>
#include <portpool/detail/unique_fd.hpp>

#include <sys/socket.h>

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

namespace portpool {

/// The default probe: binds a TCP socket (with SO_REUSEADDR, as servers do) to the probe address
/// and port, then closes it. A port on which another program listens fails the probe and is
/// skipped with the reason.
struct BindProbe {
  /// Why `port` cannot be used on `address`, or nullopt when it can.
  std::optional<std::string> check(const boost::asio::ip::address& address, std::uint16_t port) const {
    boost::asio::ip::tcp::endpoint endpoint(address, port);
    detail::UniqueFd socket(::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    int reuse = 1;
    if (!socket || ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) != 0) {
      return fmt::format("cannot create a socket to test it: {}", detail::last_error_text());
    }
    if (::bind(socket.get(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0) {
      return std::nullopt;
    }
    if (errno == EADDRINUSE) {
      return fmt::format("in use by a program outside portpool (bind {}:{} failed: {})", address.to_string(), port,
                         detail::last_error_text());
    }
    return fmt::format("cannot be bound on {}: {}", address.to_string(), detail::last_error_text());
  }
};

/// A probe that accepts every locked port: for pools whose ports are never bound on this machine
/// (or bound by a launcher that reports its own errors).
struct NoProbe {
  std::optional<std::string> check(const boost::asio::ip::address& /*address*/, std::uint16_t /*port*/) const {
    return std::nullopt;
  }
};

}  // namespace portpool
