#include "duration.hpp"

#include "exit_codes.hpp"

#include <portpool/parse_integer.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

namespace portpool::cli {
namespace {

constexpr std::chrono::milliseconds longest = std::chrono::hours(24);

constexpr std::array<std::pair<std::string_view, long long>, 5> units{
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"", 1000}}};

}  // namespace

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option) {
  auto digits = std::min(text.find_first_not_of("0123456789"), text.size());
  auto amount = parse_integer<long long>(std::string_view(text).substr(0, digits));
  auto unit = std::string_view(text).substr(digits);
  for (const auto& [name, milliseconds] : units) {
    if (amount && unit == name && *amount <= longest.count() / milliseconds) {
      return std::chrono::milliseconds(*amount * milliseconds);
    }
  }
  throw UsageError(
      fmt::format("{} {} is not a duration: give a whole number with a unit, ms, s, m or h "
                  "(5s, 500ms; no unit means seconds), at most 24h",
                  option, text));
}

}  // namespace portpool::cli
