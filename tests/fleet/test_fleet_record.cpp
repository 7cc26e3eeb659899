// The fleet key layout and value schema: what the agent writes reads back identically, and values
// from etcd (untrusted) are accepted only in exactly that shape.

#include <portpool/error.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/transport.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

using namespace portpool;
using namespace portpool::fleet;

namespace {

constexpr const char* prefix = "/portpool/v1";
constexpr const char* key = "/portpool/v1/hosts/web-1/ports/9000";

FleetHolder sample() {
  Holder local;
  local.port = 9000;
  local.service = "api-server";
  local.pid = 4242;
  local.instance = 2;
  local.instance_id = "4242-cafe";
  local.since = std::chrono::system_clock::time_point(std::chrono::milliseconds(1714557600123));
  local.readiness = Readiness::ready;
  return fleet_holder_of(local, "web-1", "10.0.0.7", "0b5a1c3e-1111-2222-3333-444455556666");
}

std::string with(const std::string& field, const nlohmann::json& value) {
  auto object = nlohmann::json::parse(encode_holder(sample()));
  object[field] = value;
  return object.dump();
}

std::string without(const std::string& field) {
  auto object = nlohmann::json::parse(encode_holder(sample()));
  object.erase(field);
  return object.dump();
}

}  // namespace

TEST_CASE("a published holder reads back identically, host and port from the key") {
  auto holder = sample();
  CHECK(port_key(prefix, "web-1", 9000) == key);
  auto decoded = decode_holder(prefix, key, encode_holder(holder));
  CHECK(decoded == holder);
  CHECK(decoded.address == "10.0.0.7:9000");
  CHECK(iso8601_utc(decoded.since) == "2024-05-01T10:00:00.123Z");
}

TEST_CASE("a udp or both holder's transport reads back, and a tcp holder's value has none (none reads as tcp)") {
  auto holder = sample();
  CHECK(holder.transport == Transport::tcp);
  auto tcp_value = nlohmann::json::parse(encode_holder(holder));
  CHECK_FALSE(tcp_value.contains("transport"));  // the value readers before transports accept
  CHECK(decode_holder(prefix, key, tcp_value.dump()).transport == Transport::tcp);
  CHECK(decode_holder(prefix, key, with("transport", "tcp")).transport == Transport::tcp);
  for (auto transport : {Transport::udp, Transport::both}) {
    holder.transport = transport;
    auto value = encode_holder(holder);
    CHECK(nlohmann::json::parse(value).at("transport") == to_string(transport));
    auto decoded = decode_holder(prefix, key, value);
    CHECK(decoded.transport == transport);
    CHECK(decoded == holder);
    CHECK(decoded != sample());
  }
  Holder local;
  local.port = 5353;
  local.service = "dns";
  local.transport = Transport::udp;
  CHECK(fleet_holder_of(local, "web-1", "10.0.0.7", "").transport == Transport::udp);
}

TEST_CASE("every time from 1970 to 2262 reads back as written, leap days included") {
  auto holder = sample();
  const auto last = std::chrono::hours(24 * 365) * 292;  // system_clock in nanoseconds ends in 2262
  const auto step =
      std::chrono::seconds(97 * 86400 + 3671);  // about 3 months: days of every month, in leap and other years
  for (auto since = std::chrono::milliseconds(0); since < last; since += step + std::chrono::milliseconds(7)) {
    holder.since = std::chrono::system_clock::time_point(since);
    auto text = iso8601_utc(holder.since);
    INFO(text);
    REQUIRE(decode_holder(prefix, key, encode_holder(holder)).since == holder.since);
  }
  for (const char* since : {"1970-01-01T00:00:00.000Z", "2000-02-29T23:59:59.999Z", "2024-02-29T12:00:00.000Z",
                            "2100-03-01T00:00:00.000Z", "2262-04-11T23:47:15.999Z"}) {
    INFO(since);
    CHECK(iso8601_utc(decode_holder(prefix, key, with("since", since)).since) == since);
  }
}

TEST_CASE("port keys are parsed strictly") {
  CHECK(parse_port_key(prefix, key) == std::pair<std::string, std::uint16_t>("web-1", 9000));
  for (const char* wrong :
       {"/portpool/v1/hosts/web-1/ports/0", "/portpool/v1/hosts/web-1/ports/65536",
        "/portpool/v1/hosts/web-1/ports/09000", "/portpool/v1/hosts/web-1/ports/90a", "/portpool/v1/hosts//ports/9000",
        "/portpool/v1/hosts/.x/ports/9000", "/portpool/v1/hosts/a b/ports/9000", "/portpool/v2/hosts/web-1/ports/9000",
        "/portpool/v1/claims/9000", "/portpool/v1/hosts/web-1/ports/"}) {
    INFO(wrong);
    CHECK_FALSE(parse_port_key(prefix, wrong));
  }
}

TEST_CASE("values outside the schema are rejected with the reason") {
  auto rejects = [](const std::string& value, const std::string& reason) {
    INFO(value);
    CHECK_THROWS_WITH(decode_holder(prefix, key, value), Catch::Contains(reason));
  };
  rejects("not json", "not a JSON object");
  rejects("[1,2]", "not a JSON object");
  rejects(with("extra", 1), "unknown field");
  rejects(without("pid"), "no 'pid'");
  rejects(with("pid", 0), "'pid' is outside");
  rejects(with("pid", -5), "'pid' is outside");
  rejects(with("pid", 18446744073709551615ULL), "'pid' is outside");
  rejects(with("pid", "42"), "'pid' is not an integer");
  rejects(with("instance", 1.5), "'instance' is not an integer");
  rejects(with("service", "../etc"), "not a valid name");
  rejects(with("service", std::string(65, 'a')), "not a valid name");
  rejects(with("address", "a b:1"), "address");
  rejects(with("address", ""), "address");
  rejects(with("boot_id", "ZZZ"), "boot id");
  rejects(with("since", "2024-13-01T10:00:00.123Z"), "'since'");
  rejects(with("since", "2024-05-01 10:00:00"), "'since'");
  rejects(with("since", "7874-05-01T10:00:00.123Z"), "'since'");  // beyond system_clock (found by fuzzing)
  for (const char* since :
       {"2023-02-29T10:00:00.123Z", "2024-04-31T10:00:00.123Z", "2100-02-29T10:00:00.123Z", "2024-00-01T10:00:00.123Z",
        "2024-05-00T10:00:00.123Z", "2024-05-01T24:00:00.123Z", "2024-05-01T10:60:00.123Z", "2024-05-01T10:00:60.123Z",
        "1969-12-31T23:59:59.999Z", "+024-05-01T10:00:00.123Z", " 2024-5-01T10:00:00.123Z", "2024-05-01T10:00:00.12Z",
        "2024-05-01T10:00:00.1234", "2024-05-01T10:00:00.-12Z", "2024-05-01t10:00:00.123Z"}) {
    INFO(since);
    rejects(with("since", since), "'since'");
  }
  rejects(with("readiness", "busy"), "'readiness'");
  rejects(with("transport", "quic"), "'transport' is not tcp, udp or both");
  rejects(with("transport", "UDP"), "'transport' is not tcp, udp or both");
  rejects(with("transport", 17), "'transport' is not a string");
  rejects(with("address", std::string(3000, 'a')), "bytes, more than");
  CHECK_THROWS_AS(decode_holder(prefix, "/portpool/v1/hosts/web-1/ports/x", encode_holder(sample())),
                  InvalidFleetRecord);
}

TEST_CASE("prefixes and host ids are checked") {
  CHECK_NOTHROW(require_valid_prefix("/portpool/v1"));
  for (const char* wrong : {"", "/", "portpool", "/portpool/", "/port pool", "/a\nb"}) {
    INFO(wrong);
    CHECK_THROWS_AS(require_valid_prefix(wrong), ConfigError);
  }
  CHECK_NOTHROW(require_valid_host_id("3d1219c7c4c5404aaa1f6d2a48adfda4"));
  CHECK_THROWS_AS(require_valid_host_id("a/b"), ConfigError);
  CHECK_THROWS_AS(require_valid_host_id(""), ConfigError);
}
