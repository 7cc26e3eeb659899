#pragma once

// Binding a TCP socket to a pool port is both the probe (bind, then close) and the first half of
// acquire_listening (bind, then listen and keep). One function does the bind so that a skipped port
// is explained in the same words whichever way it was acquired.

#include <portpool/detail/system_error.hpp>
#include <portpool/error.hpp>
#include <portpool/unique_fd.hpp>

#include <sys/socket.h>

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>

#include <cerrno>
#include <cstdint>
#include <string>

namespace portpool::detail {

inline std::string bind_failure(const boost::asio::ip::address& address, std::uint16_t port, int error) {
  if (error == EADDRINUSE) {
    return fmt::format("in use by a program outside portpool (bind {}:{} failed: {})", address.to_string(), port,
                       errno_text(error));
  }
  return fmt::format("cannot be bound on {}: {}", address.to_string(), errno_text(error));
}

[[noreturn]] inline void throw_socket_resource_error(std::uint16_t port, int error) {
  throw ResourceError(
      fmt::format("cannot create a socket to test port {}: {}; release some descriptors or raise the "
                  "limit ('ulimit -n'), then try again",
                  port, errno_text(error)));
}

/// A close-on-exec TCP socket with SO_REUSEADDR (as servers set it) bound to `address`:`port`;
/// an empty descriptor and `refusal` saying why when that is not possible (errno is the bind's).
/// @throws ResourceError when no socket can be created (descriptors or memory exhausted).
inline UniqueFd bind_socket(const boost::asio::ip::address& address, std::uint16_t port, std::string& refusal) {
  boost::asio::ip::tcp::endpoint endpoint(address, port);
  UniqueFd socket(::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  int reuse = 1;
  if (!socket && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)) {
    throw_socket_resource_error(port, errno);
  }
  if (!socket || ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) != 0) {
    refusal = fmt::format("cannot create a socket to test it: {}", last_error_text());
    return {};
  }
  if (::bind(socket.get(), endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0) {
    auto error = errno;
    refusal = bind_failure(address, port, error);
    errno = error;
    return {};
  }
  return socket;
}

}  // namespace portpool::detail
