#pragma once

/// @file
/// Transport: which socket types a service's port is free and held for (TCP, UDP or both).

#include <optional>
#include <string_view>

namespace portpool {

/// Which socket types a service serves its port with. The lock is one per port number, whatever the
/// transport: a TCP holder and a UDP holder never get the same number, since clients, firewalls and
/// people think in port numbers (docs/design.md). What changes with the transport is what "free"
/// means (no listening TCP socket, no bound UDP socket, or neither) and what the shield watches.
enum class Transport {
  tcp,   ///< stream sockets: free when no program listens on the port (the default)
  udp,   ///< datagram sockets: free when no UDP socket is bound to the port
  both,  ///< one port served on TCP and UDP (DNS, QUIC beside its TCP fallback): free for both
};

/// The transport's name: "tcp", "udp" or "both", as in TOML (`transport = "udp"`) and in records.
inline constexpr const char* to_string(Transport transport) noexcept {
  switch (transport) {
    case Transport::udp:
      return "udp";
    case Transport::both:
      return "both";
    case Transport::tcp:
      break;
  }
  return "tcp";
}

/// The transport named `name` ("tcp", "udp" or "both"), or nullopt for any other text.
///
/// @code
/// auto transport = portpool::parse_transport("udp");  // Transport::udp
/// @endcode
inline std::optional<Transport> parse_transport(std::string_view name) noexcept {
  for (auto candidate : {Transport::tcp, Transport::udp, Transport::both}) {
    if (name == to_string(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

/// Whether the port is used with TCP (`tcp` or `both`).
inline constexpr bool uses_tcp(Transport transport) noexcept { return transport != Transport::udp; }

/// Whether the port is used with UDP (`udp` or `both`).
inline constexpr bool uses_udp(Transport transport) noexcept { return transport != Transport::tcp; }

}  // namespace portpool
