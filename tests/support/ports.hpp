#pragma once

// Ports for tests, chosen at run time and reserved for the test's whole life.
//
// A reservation is a socket bound to 127.0.0.1:P *without* SO_REUSEADDR, so no other reservation
// (from a test running in parallel) can take P; SO_REUSEADDR is set after the bind, so portpool's
// bind probe and a real listener (both with SO_REUSEADDR) can still use P while it is reserved.
// A listening socket conflicts with everything, which is how tests simulate a foreign program.

#include <portpool/unique_fd.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

namespace portpool::test {

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

inline bool bind_loopback(int socket, std::uint16_t port) {
  auto address = loopback(port);
  return ::bind(socket, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

inline std::uint16_t bound_port(int socket) {
  sockaddr_in address{};
  socklen_t size = sizeof address;
  ::getsockname(socket, reinterpret_cast<sockaddr*>(&address), &size);
  return ntohs(address.sin_port);
}

/// Reserves a port; -1 socket when `port` is taken. Port 0 lets the kernel choose.
inline portpool::UniqueFd reserve(std::uint16_t port) {
  portpool::UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int reuse = 1;
  if (!socket || !bind_loopback(socket.get(), port) ||
      ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) != 0) {
    return {};
  }
  return socket;
}

class ReservedPorts {
 public:
  /// `count` ports, anywhere.
  static ReservedPorts any(std::size_t count) {
    ReservedPorts reserved;
    while (reserved.ports_.size() < count) {
      auto socket = reserve(0);
      if (!socket) {
        throw std::runtime_error("cannot reserve a test port");
      }
      reserved.ports_.push_back(bound_port(socket.get()));
      reserved.sockets_.push_back(std::move(socket));
    }
    return reserved;
  }

  /// `count` consecutive ports starting at a multiple of `alignment` (for tables whose base,
  /// stride and offsets must line up).
  static ReservedPorts consecutive(std::size_t count, unsigned alignment = 1) {
    std::mt19937 random(std::random_device{}());
    std::uniform_int_distribution<unsigned> start(20000 / alignment, 32000 / alignment);
    for (int attempt = 0; attempt < 1000; ++attempt) {
      ReservedPorts reserved;
      auto first = start(random) * alignment;
      for (unsigned port = first; port < first + count; ++port) {
        auto socket = reserve(static_cast<std::uint16_t>(port));
        if (!socket) {
          break;
        }
        reserved.ports_.push_back(static_cast<std::uint16_t>(port));
        reserved.sockets_.push_back(std::move(socket));
      }
      if (reserved.ports_.size() == count) {
        return reserved;
      }
    }
    throw std::runtime_error("cannot reserve consecutive test ports");
  }

  const std::vector<std::uint16_t>& ports() const { return ports_; }
  std::uint16_t operator[](std::size_t index) const { return ports_.at(index); }

 private:
  std::vector<std::uint16_t> ports_;
  std::vector<portpool::UniqueFd> sockets_;
};

/// A program outside portpool listening on 127.0.0.1:port (with SO_REUSEADDR, as servers do), or
/// an empty descriptor when the port cannot be listened on (errno says why).
inline portpool::UniqueFd try_listen_on(std::uint16_t port) {
  portpool::UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int reuse = 1;
  if (!socket || ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) != 0 ||
      !bind_loopback(socket.get(), port) || ::listen(socket.get(), 16) != 0) {
    int reason = errno;
    socket.reset();
    errno = reason;
  }
  return socket;
}

/// The same, for a port the test reserved: not being able to listen on it is an error.
inline portpool::UniqueFd listen_on(std::uint16_t port) {
  auto socket = try_listen_on(port);
  if (!socket) {
    throw std::runtime_error("cannot listen on a reserved test port");
  }
  return socket;
}

/// `address` (a numeric IPv4 or IPv6 address):`port` as bind() takes it, its length in `size`.
inline sockaddr_storage numeric_address(const char* address, std::uint16_t port, socklen_t& size) {
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    size = sizeof *v4;
  } else if (::inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    size = sizeof *v6;
  } else {
    throw std::runtime_error("not a numeric address");
  }
  return storage;
}

/// A program outside portpool listening on `address`:port (a numeric IPv4 or IPv6 address, with
/// SO_REUSEADDR; IPv6 sockets v6-only), or an empty descriptor when that address cannot be had
/// here (no IPv6, or 127.0.0.2 not routed to loopback).
inline portpool::UniqueFd listen_on_address(const char* address, std::uint16_t port) {
  socklen_t size = 0;
  auto storage = numeric_address(address, port, size);
  portpool::UniqueFd socket(::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  if (!socket || ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      (storage.ss_family == AF_INET6 && ::setsockopt(socket.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) ||
      ::bind(socket.get(), reinterpret_cast<const sockaddr*>(&storage), size) != 0 || ::listen(socket.get(), 16) != 0) {
    return {};
  }
  return socket;
}

/// A program outside portpool with a UDP socket bound to `address`:port (a numeric IPv4 or IPv6
/// address; IPv6 sockets v6-only), or an empty descriptor when that cannot be had here. Ports the
/// tests bind for UDP are ones they reserved (for TCP: a UDP reservation would fail the UDP probe
/// itself), so two tests never meet on one.
inline portpool::UniqueFd bind_udp_on_address(const char* address, std::uint16_t port) {
  socklen_t size = 0;
  auto storage = numeric_address(address, port, size);
  portpool::UniqueFd socket(::socket(storage.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  int on = 1;
  if (!socket ||
      (storage.ss_family == AF_INET6 && ::setsockopt(socket.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) ||
      ::bind(socket.get(), reinterpret_cast<const sockaddr*>(&storage), size) != 0) {
    return {};
  }
  return socket;
}

/// Whether this machine lets a socket listen on `address` (on a port of the kernel's choosing):
/// false without IPv6, or where 127.0.0.2 is not routed to the loopback interface.
inline bool can_listen_on_address(const char* address) { return static_cast<bool>(listen_on_address(address, 0)); }

}  // namespace portpool::test
