#pragma once

// One strict integer parser for everything portpool reads that another process wrote: holder
// records, /proc and /proc/net files, sock_diag answers, command-line values. Strict means digits
// only: no sign, no space, no "0x" prefix, no trailing text, and a value that fits the type.
// (std::strtoul accepts all of those and wraps negatives; std::from_chars alone accepts a minus
// sign for signed types.)

#include <charconv>
#include <cstddef>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace portpool::detail {

inline bool is_digit_in_base(char character, int base) {
  if (character >= '0' && character <= '9') {
    return character - '0' < base;
  }
  if (base == 16) {
    return (character >= 'a' && character <= 'f') || (character >= 'A' && character <= 'F');
  }
  return false;
}

/// The non-negative integer spelled by exactly `text` in `base` (10 or 16), or nullopt.
template <class Integer>
std::optional<Integer> parse_integer(std::string_view text, int base = 10) {
  static_assert(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>);
  constexpr std::size_t longest = 40;  // more digits than any 128-bit value has
  if (text.empty() || text.size() > longest) {
    return std::nullopt;
  }
  for (char character : text) {
    if (!is_digit_in_base(character, base)) {
      return std::nullopt;
    }
  }
  Integer value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace portpool::detail
