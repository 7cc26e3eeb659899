#pragma once

// A socket in LISTEN state, or a UDP socket bound to a port, as the kernel's tables report it: plain
// data, shared by the code that reads the tables (socket_table.hpp) and the rules that judge them
// (shield_verdict.hpp).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <portpool/detail/message.hpp>

#include <array>
#include <cstdint>
#include <string>

namespace portpool::detail {

/// The local address of a listener: IPv4 (the first 4 bytes) or IPv6, in network order. An
/// IPv4-mapped IPv6 address is stored as the IPv4 address it maps.
struct ListenerAddress {
  bool is_v6 = false;
  std::array<std::uint8_t, 16> bytes{};

  std::string to_string() const {
    std::array<char, INET6_ADDRSTRLEN> text{};
    ::inet_ntop(is_v6 ? AF_INET6 : AF_INET, bytes.data(), text.data(), static_cast<socklen_t>(text.size()));
    return text.data();
  }

  friend bool operator==(const ListenerAddress& left, const ListenerAddress& right) noexcept {
    return left.is_v6 == right.is_v6 && left.bytes == right.bytes;
  }
  friend bool operator!=(const ListenerAddress& left, const ListenerAddress& right) noexcept {
    return !(left == right);
  }
};

/// One TCP socket in LISTEN state, or one UDP socket bound to a port (what "listens" for datagrams).
struct Listener {
  std::uint64_t inode = 0;  ///< the socket's inode (what fstat on its descriptor reports as st_ino)
  ListenerAddress address;
  std::uint16_t port = 0;
  int type = SOCK_STREAM;  ///< SOCK_STREAM for a TCP listener, SOCK_DGRAM for a bound UDP socket

  std::string endpoint_text() const {
    return address.is_v6 ? format_message("[{}]:{}", {address.to_string(), port})
                         : format_message("{}:{}", {address.to_string(), port});
  }
};

/// A listener as reports name it: "[::1]:6001 (socket inode 1234)".
inline std::string describe_listener(const Listener& listener) {
  return format_message("{} (socket inode {})", {listener.endpoint_text(), listener.inode});
}

}  // namespace portpool::detail
