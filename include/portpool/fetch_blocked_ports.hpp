#pragma once

/// @file
/// The ports that browsers and `fetch()` refuse to connect to.

#include <algorithm>
#include <array>
#include <cstdint>

namespace portpool {

/// Whether browsers and every `fetch()` implementation (Node.js's included, so the official MCP
/// TypeScript SDK, MCP Inspector and other JavaScript clients) refuse to connect to `port`: the
/// "bad ports" of the WHATWG Fetch standard. A pool port on this list is useless to such clients,
/// so managers skip it unless the pool opts in (`Options::allow_fetch_blocked_ports`, or the
/// table's `allow_fetch_blocked_ports()`, TOML key `allow_fetch_blocked_ports`).
///
/// @code
/// portpool::is_fetch_blocked_port(6000);  // true: X11
/// @endcode
inline bool is_fetch_blocked_port(std::uint16_t port) noexcept {
  static constexpr std::array<std::uint16_t, 82> blocked = {
      1,    7,    9,    11,   13,   15,   17,   19,   20,   21,   22,   23,   25,   37,   42,   43,   53,
      69,   77,   79,   87,   95,   101,  102,  103,  104,  109,  110,  111,  113,  115,  117,  119,  123,
      135,  137,  139,  143,  161,  179,  389,  427,  465,  512,  513,  514,  515,  526,  530,  531,  532,
      540,  548,  554,  556,  563,  587,  601,  636,  989,  990,  993,  995,  1719, 1720, 1723, 2049, 3659,
      4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080};
  return std::binary_search(blocked.begin(), blocked.end(), port);
}

}  // namespace portpool
