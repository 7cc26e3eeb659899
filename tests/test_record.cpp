#include <portpool/detail/record.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using portpool::Holder;
using portpool::detail::format_record;
using portpool::detail::parse_record;

namespace {

Holder sample() {
  return Holder{9001, "api-server",    4242,
                2,    "4242-abcdef01", std::chrono::system_clock::time_point(std::chrono::milliseconds(1764000000123))};
}

}  // namespace

TEST_CASE("a record survives formatting and parsing") {
  auto parsed = parse_record(format_record(sample()));
  REQUIRE(parsed.has_value());
  CHECK(parsed->port == 9001);
  CHECK(parsed->service == "api-server");
  CHECK(parsed->pid == 4242);
  CHECK(parsed->instance == 2);
  CHECK(parsed->instance_id == "4242-abcdef01");
  CHECK(parsed->since == sample().since);
}

TEST_CASE("records from a newer writer with extra fields are still read") {
  auto text = format_record(sample()) + "host=box\n";
  CHECK(parse_record(text).has_value());
}

TEST_CASE("malformed, truncated, oversized or hostile records are rejected") {
  auto good = format_record(sample());
  CHECK_FALSE(parse_record("").has_value());
  CHECK_FALSE(parse_record("garbage").has_value());
  CHECK_FALSE(parse_record(good.substr(0, good.size() - 1)).has_value());
  CHECK_FALSE(parse_record("portpool-record 2\npid=1\n").has_value());
  CHECK_FALSE(parse_record("portpool-record 1\nport=9000\n").has_value());
  CHECK_FALSE(parse_record("portpool-record 1\npid=-5\n").has_value());
  CHECK_FALSE(parse_record("portpool-record 1\npid=1\nport=70000\n").has_value());
  CHECK_FALSE(parse_record("portpool-record 1\npid=1\nservice=bad name\n").has_value());
  CHECK_FALSE(parse_record("portpool-record 1\npid=1\nno equals sign\n").has_value());
  CHECK_FALSE(parse_record("portpool-record 1\npid=1\nsince_ms=-1\n").has_value());
  CHECK_FALSE(parse_record("portpool-record 1\npid=1\ninstance=12abc\n").has_value());
  CHECK_FALSE(parse_record("portpool-record 1\npid=1\nsince_ms=170000064000000246\n").has_value());  // found by fuzzing
  CHECK_FALSE(parse_record(good + std::string(5000, 'x') + "\n").has_value());
}
