// Messages (detail/message.hpp): format_message() writes what fmt::format wrote for the same pattern.

#include <portpool/detail/message.hpp>

#include <catch2/catch.hpp>

#include <sys/types.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <fmt/format.h>

using portpool::detail::format_message;
using portpool::detail::MessageArgument;

namespace {

// Catch2 prints std::string, not std::string_view, when a check fails.
std::string written(const MessageArgument& argument) { return std::string(argument.text()); }

}  // namespace

TEST_CASE("integers are written in decimal as fmt::format writes them") {
  CHECK(written(0) == fmt::format("{}", 0));
  CHECK(written(-1) == fmt::format("{}", -1));
  CHECK(written(std::uint16_t{65535}) == "65535");
  CHECK(written(std::numeric_limits<int>::min()) == fmt::format("{}", std::numeric_limits<int>::min()));
  CHECK(written(std::numeric_limits<long long>::min()) == fmt::format("{}", std::numeric_limits<long long>::min()));
  CHECK(written(std::numeric_limits<long>::max()) == fmt::format("{}", std::numeric_limits<long>::max()));
  CHECK(written(std::numeric_limits<unsigned long long>::max()) == "18446744073709551615");
  CHECK(written(std::numeric_limits<unsigned>::max()) == "4294967295");
  CHECK(written(pid_t{4242}) == "4242");
  CHECK(written(std::size_t{4096}) == "4096");
}

TEST_CASE("a copied argument keeps its digits") {
  MessageArgument original(123456789);
  MessageArgument copy = original;
  CHECK(written(copy) == "123456789");
}

TEST_CASE("each {} takes the next argument, text or number") {
  std::string service = "api";
  std::string_view reason = "in use";
  CHECK(format_message("the pool of '{}' lists port {} twice", {service, std::uint16_t{8080}}) ==
        fmt::format("the pool of '{}' lists port {} twice", service, std::uint16_t{8080}));
  CHECK(format_message("skipped port {}: {}", {8081, reason}) == "skipped port 8081: in use");
  CHECK(format_message("{}{}", {"a", "b"}) == "ab");
  CHECK(format_message("{} at the start, {} at the end: {}", {1, 2U, 3UL}) == "1 at the start, 2 at the end: 3");
  CHECK(format_message("no field", {}) == "no field");
  CHECK(format_message("", {}).empty());
}

TEST_CASE("a field without an argument is left as it is, an argument without a field is dropped") {
  CHECK(format_message("{} and {}", {1}) == "1 and {}");
  CHECK(format_message("only {}", {1, 2}) == "only 1");
}
