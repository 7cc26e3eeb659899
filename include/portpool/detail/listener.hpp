#pragma once

// A socket in LISTEN state as the kernel's tables report it: plain data, shared by the code that
// reads the tables (socket_table.hpp) and the rules that judge them (shield_verdict.hpp).

#include <fmt/format.h>
#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>

namespace portpool::detail {

/// One socket in LISTEN state.
struct Listener {
  std::uint64_t inode = 0;  ///< the socket's inode (what fstat on its descriptor reports as st_ino)
  boost::asio::ip::address address;
  std::uint16_t port = 0;

  std::string endpoint_text() const {
    return address.is_v6() ? fmt::format("[{}]:{}", address.to_string(), port)
                           : fmt::format("{}:{}", address.to_string(), port);
  }
};

/// A listener as reports name it: "[::1]:6001 (socket inode 1234)".
inline std::string describe_listener(const Listener& listener) {
  return fmt::format("{} (socket inode {})", listener.endpoint_text(), listener.inode);
}

}  // namespace portpool::detail
