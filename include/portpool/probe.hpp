#pragma once

/// @file
/// Probe policies: how a manager checks that a locked port can really be bound.

#include <portpool/detail/bound_socket.hpp>

#include <boost/asio/ip/address.hpp>

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
    std::string refusal;
    if (!detail::bind_socket(address, port, refusal)) {
      return refusal;
    }
    return std::nullopt;
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
