#pragma once

// Binding a socket to a pool port is both the probe (bind, then close) and the first half of
// acquire_listening (bind, then listen and keep) or of a datagram acquisition (bind and keep). One function does the
// bind so that a skipped port is explained in the same words whichever way it was acquired.

#include <portpool/detail/message.hpp>
#include <portpool/detail/system_error.hpp>
#include <portpool/error.hpp>
#include <portpool/ip_address.hpp>
#include <portpool/unique_fd.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace portpool::detail {

/// `address`:`port` as the socket calls take it.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const noexcept { return storage.ss_family; }
  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

inline SocketAddress socket_address(const IpAddress& address, std::uint16_t port) noexcept {
  SocketAddress socket_address;
  if (address.is_v4()) {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    auto bytes = address.v4_bytes();
    std::memcpy(&v4.sin_addr, bytes.data(), bytes.size());
    std::memcpy(&socket_address.storage, &v4, sizeof v4);
    socket_address.length = sizeof v4;
  } else {
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    std::memcpy(&v6.sin6_addr, address.v6_bytes().data(), address.v6_bytes().size());
    v6.sin6_scope_id = address.scope_id();
    std::memcpy(&socket_address.storage, &v6, sizeof v6);
    socket_address.length = sizeof v6;
  }
  return socket_address;
}

inline std::string bind_failure(const IpAddress& address, std::uint16_t port, int error) {
  if (error == EADDRINUSE) {
    return format_message("in use by a program outside portpool (bind {}:{} failed: {})",
                          {address.to_string(), port, errno_text(error)});
  }
  return format_message("cannot be bound on {}: {}", {address.to_string(), errno_text(error)});
}

[[noreturn]] inline void throw_socket_resource_error(std::uint16_t port, int error) {
  throw ResourceError(
      format_message("cannot create a socket to test port {}: {}; release some descriptors or raise the "
                     "limit ('ulimit -n'), then try again",
                     {port, errno_text(error)}));
}

/// A close-on-exec socket of `type` bound to `address`:`port`: a TCP one (SOCK_STREAM) with
/// SO_REUSEADDR, as servers set it; a UDP one (SOCK_DGRAM) without, since on UDP that option
/// would let another socket with it bind the same port beside ours. An empty descriptor and
/// `refusal` saying why when that is not possible (errno is the bind's).
/// @throws ResourceError when no socket can be created (descriptors or memory exhausted).
inline UniqueFd bind_socket(const IpAddress& address, std::uint16_t port, std::string& refusal,
                            int type = SOCK_STREAM) {
  auto endpoint = socket_address(address, port);
  UniqueFd socket(::socket(endpoint.family(), type | SOCK_CLOEXEC, 0));
  int reuse = 1;
  if (!socket && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
    throw_socket_resource_error(port, errno);
  }
  if (!socket ||
      (type == SOCK_STREAM && ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) != 0)) {
    refusal = format_message("cannot create a socket to test it: {}", {last_error_text()});
    return {};
  }
  if (::bind(socket.get(), endpoint.data(), endpoint.length) != 0) {
    auto error = errno;
    refusal = bind_failure(address, port, error);
    errno = error;
    return {};
  }
  return socket;
}

}  // namespace portpool::detail
