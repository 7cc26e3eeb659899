#include "duration.hpp"

#include "exit_codes.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <string_view>
#include <utility>

namespace portpool::cli {
namespace {

constexpr std::chrono::milliseconds longest = std::chrono::hours(24);

constexpr std::array<std::pair<std::string_view, long long>, 5> units{
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"", 1000}}};

}  // namespace

std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option) {
  long long amount = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), amount);
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  for (const auto& [name, milliseconds] : units) {
    if (error == std::errc{} && amount >= 0 && unit == name && amount <= longest.count() / milliseconds) {
      return std::chrono::milliseconds(amount * milliseconds);
    }
  }
  throw UsageError(
      fmt::format("{} {} is not a duration: give a whole number with a unit, ms, s, m or h "
                  "(5s, 500ms; no unit means seconds), at most 24h",
                  option, text));
}

}  // namespace portpool::cli
