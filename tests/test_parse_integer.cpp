#include <portpool/parse_integer.hpp>

#include <catch2/catch.hpp>

#include <sys/types.h>
#include <cstdint>

using portpool::parse_integer;

TEST_CASE("integers are digits only, and fit their type") {
  CHECK(parse_integer<std::uint16_t>("65535") == 65535);
  CHECK(parse_integer<std::uint16_t>("0") == 0);
  CHECK(parse_integer<pid_t>("4242") == 4242);
  CHECK(parse_integer<std::uint32_t>("0100007F", 16) == 0x0100007FU);
  CHECK(parse_integer<std::uint32_t>("deadBEEF", 16) == 0xDEADBEEFU);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "1.0", "65536", "99999999999999999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_integer<std::uint16_t>(bad).has_value());
  }
  CHECK_FALSE(parse_integer<pid_t>("-5").has_value());
  CHECK_FALSE(parse_integer<std::uint32_t>("0x10", 16).has_value());
  CHECK_FALSE(parse_integer<std::uint32_t>("g", 16).has_value());
  CHECK_FALSE(parse_integer<std::uint32_t>("1a").has_value());
}
