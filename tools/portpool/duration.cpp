#include "duration.hpp"

#include "exit_codes.hpp"

#include <portpool/parse_integer.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace portpool::cli {
namespace {

constexpr std::chrono::milliseconds longest = std::chrono::hours(24);

constexpr std::array<std::pair<std::string_view, long long>, 5> units{
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"", 1000}}};

// `text` split into its whole part, its fraction's digits (after a '.') and its unit.
struct DurationParts {
  std::string_view whole;
  std::string_view fraction;
  std::string_view unit;
};

DurationParts split_duration(std::string_view text) {
  DurationParts parts;
  auto whole_end = std::min(text.find_first_not_of("0123456789"), text.size());
  parts.whole = text.substr(0, whole_end);
  text.remove_prefix(whole_end);
  if (!text.empty() && text.front() == '.') {
    auto fraction_end = std::min(text.find_first_not_of("0123456789", 1), text.size());
    parts.fraction = text.substr(1, fraction_end - 1);
    text.remove_prefix(fraction_end);
    if (parts.fraction.empty()) {
      parts.unit = ".";  // "5.s": no unit is named so
      return parts;
    }
  }
  parts.unit = text;
  return parts;
}

// The fraction's milliseconds for a unit of `unit_milliseconds`, or nullopt when it is finer than a
// millisecond (or has more digits than that could ever need).
std::optional<long long> fraction_milliseconds(std::string_view fraction, long long unit_milliseconds) {
  constexpr std::size_t most_digits = 9;
  if (fraction.empty()) {
    return 0;
  }
  auto digits = parse_integer<long long>(fraction);
  if (!digits || fraction.size() > most_digits) {
    return std::nullopt;
  }
  long long scale = 1;
  for (std::size_t index = 0; index < fraction.size(); ++index) {
    scale *= 10;
  }
  if (*digits * unit_milliseconds % scale != 0) {
    return std::nullopt;
  }
  return *digits * unit_milliseconds / scale;
}

}  // namespace

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option) {
  auto parts = split_duration(text);
  auto amount = parse_integer<long long>(parts.whole);
  for (const auto& [name, milliseconds] : units) {
    if (!amount || parts.unit != name || *amount > longest.count() / milliseconds) {
      continue;
    }
    auto fraction = fraction_milliseconds(parts.fraction, milliseconds);
    if (!fraction) {
      throw UsageError(
          fmt::format("{} {} is finer than a millisecond: give at most millisecond precision, such as "
                      "1.5s or 1500ms",
                      option, text));
    }
    auto total = *amount * milliseconds + *fraction;
    if (total <= longest.count()) {
      return std::chrono::milliseconds(total);
    }
  }
  throw UsageError(
      fmt::format("{} {} is not a duration: give a number with a unit, ms, s, m or h "
                  "(5s, 1.5s, 500ms; no unit means seconds), at most 24h",
                  option, text));
}

}  // namespace portpool::cli
