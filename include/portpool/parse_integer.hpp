#pragma once

/// @file
/// parse_integer(): the strict integer parser portpool reads records, /proc and its own command
/// lines with, for programs that read the same values (a port, a pid, an instance number).

#include <portpool/detail/parse_number.hpp>

#include <optional>
#include <string_view>

namespace portpool {

/// The non-negative integer spelled by exactly `text` in `base` (10 or 16), or nullopt. Strict:
/// digits only (no sign, space, "0x" prefix or trailing text), and a value that fits `Integer`;
/// `std::strtoul` accepts all of those and wraps negatives.
///
/// @code
/// portpool::parse_integer<std::uint16_t>("8080");   // 8080
/// portpool::parse_integer<std::uint16_t>("70000");  // nullopt: does not fit
/// portpool::parse_integer<unsigned>("-1");          // nullopt
/// @endcode
template <class Integer>
std::optional<Integer> parse_integer(std::string_view text, int base = 10) {
  return detail::parse_integer<Integer>(text, base);
}

}  // namespace portpool
