// Holder records (impl/record.hpp): formatted and parsed strictly, whatever another process wrote.

#include <portpool/impl/record.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include <fmt/format.h>

using portpool::Holder;
using portpool::Readiness;
using portpool::detail::format_record;
using portpool::detail::format_record_body;
using portpool::detail::parse_record;
using portpool::detail::record_checksum;

namespace {

Holder sample() {
  Holder holder;
  holder.port = 9001;
  holder.service = "api-server";
  holder.pid = 4242;
  holder.instance = 2;
  holder.instance_id = "4242-abcdef01";
  holder.since = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764000000123));
  return holder;
}

// A record whose header is right for `body`, so that the body's own checks are what is tested.
std::string with_header(const std::string& body) {
  return fmt::format("portpool-record 2 {} {:016x}\n{}", body.size(), record_checksum(body), body);
}

std::string sample_body() { return format_record_body(sample()); }

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  return text.replace(text.find(from), from.size(), to);
}

}  // namespace

TEST_CASE("a record survives formatting and parsing") {
  auto holder = sample();
  holder.readiness = GENERATE(Readiness::unknown, Readiness::starting, Readiness::ready, Readiness::stopping);
  auto parsed = parse_record(format_record(holder));
  REQUIRE(parsed.has_value());
  CHECK(parsed->port == 9001);
  CHECK(parsed->service == "api-server");
  CHECK(parsed->pid == 4242);
  CHECK(parsed->instance == 2);
  CHECK(parsed->instance_id == "4242-abcdef01");
  CHECK(parsed->since == sample().since);
  CHECK(parsed->readiness == holder.readiness);
}

TEST_CASE("the transport survives formatting and parsing, and a TCP record has no transport line") {
  auto holder = sample();
  holder.transport = GENERATE(portpool::Transport::tcp, portpool::Transport::udp, portpool::Transport::both);
  auto parsed = parse_record(format_record(holder));
  REQUIRE(parsed.has_value());
  CHECK(parsed->transport == holder.transport);
  CHECK((format_record_body(holder).find("transport=") == std::string::npos) ==
        (holder.transport == portpool::Transport::tcp));
  CHECK_FALSE(parse_record(with_header(sample_body() + "transport=quic\n")).has_value());
  CHECK_FALSE(parse_record(with_header(sample_body() + "transport=udp\ntransport=tcp\n")).has_value());
}

TEST_CASE("the application a helper holds the port for survives formatting and parsing, and is absent otherwise") {
  auto holder = sample();
  CHECK(format_record_body(holder).find("application_pid=") == std::string::npos);
  CHECK(parse_record(format_record(holder))->application_pid == 0);
  holder.application_pid = 4100;
  auto parsed = parse_record(format_record(holder));
  REQUIRE(parsed.has_value());
  CHECK(parsed->application_pid == 4100);
  CHECK(parsed->pid == 4242);
  CHECK(portpool::application_pid_of(*parsed) == 4100);
  CHECK_FALSE(parse_record(with_header(sample_body() + "application_pid=0\n")).has_value());
  CHECK_FALSE(parse_record(with_header(sample_body() + "application_pid=-3\n")).has_value());
  CHECK_FALSE(parse_record(with_header(sample_body() + "application_pid=12\napplication_pid=13\n")).has_value());
}

TEST_CASE("records from a newer writer with extra fields are still read") {
  CHECK(parse_record(with_header(sample_body() + "host=box\n")).has_value());
}

TEST_CASE("bytes after the body (left by a longer earlier record) are ignored") {
  CHECK(parse_record(format_record(sample()) + "service=older-and-longer\npid=1\n").has_value());
}

TEST_CASE("torn, truncated or oversized records are rejected") {
  auto good = format_record(sample());
  CHECK_FALSE(parse_record("").has_value());
  CHECK_FALSE(parse_record("garbage").has_value());
  CHECK_FALSE(parse_record(good.substr(0, good.size() - 1)).has_value());
  CHECK_FALSE(parse_record(replaced(good, "api-server", "api-sERVER")).has_value());  // torn: checksum differs
  CHECK_FALSE(parse_record(replaced(good, "portpool-record 2", "portpool-record 1")).has_value());
  auto huge = std::string(5000, 'x') + "\n";
  CHECK_FALSE(parse_record(with_header(sample_body() + "padding=" + huge)).has_value());
}

TEST_CASE("every key appears at most once and every required key once") {
  CHECK_FALSE(parse_record(with_header(sample_body() + "pid=1\n")).has_value());
  CHECK_FALSE(parse_record(with_header(sample_body() + "host=a\nhost=b\n")).has_value());
  for (const char* key : {"port=", "service=", "pid=", "instance=", "instance_id=", "since_ms="}) {
    CAPTURE(key);
    auto body = sample_body();
    auto start = body.find(key);
    body.erase(start, body.find('\n', start) - start + 1);
    CHECK_FALSE(parse_record(with_header(body)).has_value());
  }
}

TEST_CASE("values are strict: digits only, in range, names as for services") {
  auto body = sample_body();
  CHECK(parse_record(with_header(body)).has_value());
  for (const char* bad : {"pid=-5", "pid=+5", "pid= 5", "pid=0", "pid=0x10", "pid=5 ", "pid=99999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_record(with_header(replaced(body, "pid=4242", bad))).has_value());
  }
  CHECK_FALSE(parse_record(with_header(replaced(body, "port=9001", "port=70000"))).has_value());
  CHECK_FALSE(parse_record(with_header(replaced(body, "instance=2", "instance=12abc"))).has_value());
  CHECK_FALSE(parse_record(with_header(replaced(body, "service=api-server", "service=bad name"))).has_value());
  CHECK_FALSE(parse_record(with_header(replaced(body, "since_ms=1764000000123", "since_ms=-1"))).has_value());
  CHECK_FALSE(  // found by fuzzing: beyond what the clock can hold
      parse_record(with_header(replaced(body, "since_ms=1764000000123", "since_ms=170000064000000246"))).has_value());
  CHECK_FALSE(parse_record(with_header(body + "readiness=maybe\n")).has_value());
  CHECK_FALSE(parse_record(with_header(body + "no equals sign\n")).has_value());
  CHECK_FALSE(parse_record(with_header(body + "bad key=1\n")).has_value());
}

TEST_CASE("a description survives formatting and parsing, and older readers' keys stay as they were") {
  auto holder = sample();
  holder.description.protocol = "grpc";
  holder.description.health_path = "/healthz";
  holder.description.version = "1.2.3";
  holder.description.tags = {"b", "a"};
  holder.description.metadata = {{"type", "mcp"}, {"note", "a=b, c"}};
  auto body = format_record_body(holder);
  CHECK(body.find("protocol=grpc\nhealth=/healthz\nversion=1.2.3\ntags=b,a\nmeta.note=a=b, c\nmeta.type=mcp\n") !=
        std::string::npos);
  auto parsed = parse_record(format_record(holder));
  REQUIRE(parsed.has_value());
  CHECK(parsed->description == holder.description);
  CHECK(format_record_body(sample()).find("protocol") == std::string::npos);
}

TEST_CASE("malformed descriptions in a record are rejected") {
  auto body = sample_body();
  auto line = GENERATE(as<std::string>{}, "protocol=\n", "protocol=HTTP\n", "health=x\n", "health=/a b\n", "version=\n",
                       "tags=\n", "tags=a,\n", "tags=a,a\n", "tags=,a\n", "tags=a b\n", "meta.=x\n", "meta.a b=x\n",
                       "meta.k=\x01\n", "meta.k=\xc3\xa9\n", "meta.k=1\nmeta.k=2\n");
  CAPTURE(line);
  CHECK_FALSE(parse_record(with_header(body + line)).has_value());
}

TEST_CASE("a record with more tags or metadata than allowed is rejected") {
  std::string tags = "tags=t0";
  for (int tag = 1; tag < 17; ++tag) {
    tags += fmt::format(",t{}", tag);
  }
  CHECK_FALSE(parse_record(with_header(sample_body() + tags + "\n")).has_value());
  std::string metadata;
  for (int entry = 0; entry < 17; ++entry) {
    metadata += fmt::format("meta.k{}=v\n", entry);
  }
  CHECK_FALSE(parse_record(with_header(sample_body() + metadata)).has_value());
}
