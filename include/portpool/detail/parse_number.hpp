#pragma once

// One strict integer parser for everything portpool reads that another process wrote: holder
// records, /proc and /proc/net files, sock_diag answers, command-line values. Strict means digits
// only: no sign, no space, no "0x" prefix, no trailing text, and a value that fits the type.
// (std::strtoul accepts all of those and wraps negatives.)

#include <cstddef>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>

namespace portpool::detail {

/// The value of the digit `character` in `base` (10 or 16), or -1 when it is not one.
inline int digit_value(char character, int base) {
  if (character >= '0' && character <= '9') {
    return character - '0' < base ? character - '0' : -1;
  }
  if (base == 16 && character >= 'a' && character <= 'f') {
    return character - 'a' + 10;
  }
  if (base == 16 && character >= 'A' && character <= 'F') {
    return character - 'A' + 10;
  }
  return -1;
}

/// The non-negative integer spelled by exactly `text` in `base` (10 or 16), or nullopt.
template <class Integer>
std::optional<Integer> parse_integer(std::string_view text, int base = 10) {
  static_assert(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>);
  constexpr std::size_t longest = 40;  // more digits than any 128-bit value has
  if (text.empty() || text.size() > longest) {
    return std::nullopt;
  }
  using Wide = std::conditional_t<(sizeof(Integer) > sizeof(unsigned)), unsigned long long, unsigned>;
  constexpr auto largest = static_cast<Wide>(std::numeric_limits<Integer>::max());
  Wide value = 0;
  for (char character : text) {
    int digit = digit_value(character, base);
    if (digit < 0 || value > (largest - static_cast<Wide>(digit)) / static_cast<Wide>(base)) {
      return std::nullopt;
    }
    value = value * static_cast<Wide>(base) + static_cast<Wide>(digit);
  }
  return static_cast<Integer>(value);
}

}  // namespace portpool::detail
