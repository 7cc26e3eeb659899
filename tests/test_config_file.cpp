#include <portpool/config_file.hpp>

#include "example_application_table.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using portpool::ConfigError;
using portpool::load_table;
using portpool::load_table_file;
using portpool::PoolScope;
using portpool::test::TempDir;
using Ports = std::vector<std::uint16_t>;

namespace {

std::string error_of(const std::string& toml) {
  try {
    load_table(toml, "ports.toml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  FAIL("no ConfigError for:\n" << toml);
  return {};
}

std::filesystem::path write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  auto path = dir.path() / name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("load_table_file reads the example qwen-valencia.toml: the table the tests build in code") {
  auto loaded = load_table_file(PORTPOOL_EXAMPLES_DIR "/qwen-valencia.toml");
  auto expected = portpool::test::example_application_table();
  REQUIRE(loaded.services() == expected.services());
  CHECK(loaded.layout().base == expected.layout().base);
  CHECK(loaded.layout().stride == expected.layout().stride);
  CHECK(loaded.layout().max == expected.layout().max);
  for (const auto& service : expected.services()) {
    CHECK(loaded.is_shared(service) == expected.is_shared(service));
    CHECK(loaded.allows_fetch_blocked_ports(service) == expected.allows_fetch_blocked_ports(service));
    CHECK(loaded.description(service).empty());
    CHECK(loaded.scope(service) == PoolScope::host);
    for (unsigned instance = 1; instance <= expected.layout().max; ++instance) {
      CHECK(loaded.pool_for(service, instance) == expected.pool_for(service, instance));
    }
  }
}

TEST_CASE("services keep the order of the file, in every pool form") {
  auto table = load_table(R"(
[instances]
base = 20000
stride = 10
max = 3

[services.zeta]
offset = 4
size = 2

[services.alpha]
ports = [21002, 21000]

[services.mid]
range = [21010, 21012]
)",
                          "ports.toml");
  CHECK(table.services() == std::vector<std::string>{"zeta", "alpha", "mid"});
  CHECK(table.pool_for("zeta", 3) == Ports{20024, 20025});
  CHECK(table.pool_for("alpha", 1) == Ports{21002, 21000});
  CHECK(table.pool_for("mid", 2) == Ports{21010, 21011, 21012});
  CHECK(table.is_shared("mid"));
}

TEST_CASE("[instances] and its keys default to base 6000, stride 100, max 10") {
  auto table = load_table("[instances]\nstride = 20\n[services.web]\noffset = 1\nsize = 2\n", "ports.toml");
  CHECK(table.layout().base == 6000);
  CHECK(table.layout().stride == 20);
  CHECK(table.layout().max == 10);
  CHECK(table.pool_for("web", 2) == Ports{6021, 6022});
  CHECK(load_table("[services.web]\nports = [8080]\n", "ports.toml").layout().max == 10);
}

TEST_CASE("allow_fetch_blocked_ports = true lets a service's pool hand out ports browsers refuse") {
  auto table = load_table(
      "[services.x11]\nrange = [6000, 6001]\nallow_fetch_blocked_ports = true\n[services.web]\n"
      "ports = [6002]\n",
      "ports.toml");
  CHECK(table.allows_fetch_blocked_ports("x11"));
  CHECK_FALSE(table.allows_fetch_blocked_ports("web"));
  CHECK_THAT(error_of("[services.web]\nports = [6000]\nallow_fetch_blocked_ports = 1\n"),
             StartsWith("ports.toml:3:29: [services.web] allow_fetch_blocked_ports must be true or false"));
}

TEST_CASE("transport = \"udp\" or \"both\" declares a service's socket types; tcp is the default") {
  auto table = load_table(
      "[services.dns]\nrange = [5300, 5301]\ntransport = \"udp\"\n[services.quic]\nports = [5302]\n"
      "transport = \"both\"\n[services.web]\nports = [5303]\n",
      "ports.toml");
  CHECK(table.transport("dns") == portpool::Transport::udp);
  CHECK(table.transport("quic") == portpool::Transport::both);
  CHECK(table.transport("web") == portpool::Transport::tcp);
  CHECK_THAT(
      error_of("[services.dns]\nports = [5300]\ntransport = \"quic\"\n"),
      StartsWith("ports.toml:3:13: [services.dns] transport must be \"tcp\" (the default), \"udp\" or \"both\""));
}

TEST_CASE("invalid TOML is reported with file, line and column") {
  auto message = error_of("[services.web]\nports = [8080,\n");
  CHECK_THAT(message, StartsWith("ports.toml:2:"));
  CHECK_THAT(message, Contains("invalid TOML"));
  CHECK_THAT(error_of("[services.web\n"), StartsWith("ports.toml:1:"));
}

TEST_CASE("a misspelt key is an error at its position, saying what is expected") {
  auto message = error_of("[services.web]\noffset = 0\nsise = 3\n");
  CHECK_THAT(message, StartsWith("ports.toml:3:1: unknown key 'sise' in [services.web]"));
  CHECK_THAT(message, Contains("offset and size"));
  CHECK_THAT(error_of("[instance]\nbase = 1\n"), StartsWith("ports.toml:1:2: unknown key 'instance' at the top level"));
  CHECK_THAT(error_of("[instances]\nstrde = 1\n[services.a]\nports=[1]\n"),
             StartsWith("ports.toml:2:1: unknown key 'strde' in [instances]"));
}

TEST_CASE("values of the wrong type or out of range are errors at the value") {
  CHECK_THAT(error_of("[services.web]\noffset = \"0\"\nsize = 3\n"),
             StartsWith("ports.toml:2:10: [services.web] offset must be an integer from 0 to 65535, not string"));
  CHECK_THAT(error_of("[services.web]\noffset = 0\nsize = 2.5\n"), Contains("size must be an integer"));
  CHECK_THAT(error_of("[services.web]\noffset = -1\nsize = 3\n"),
             StartsWith("ports.toml:2:10: [services.web] offset is -1, outside 0 to 65535"));
  CHECK_THAT(error_of("[services.web]\noffset = 0\nsize = 0\n"), Contains("size is 0, outside 1 to 65535"));
  CHECK_THAT(error_of("[services.web]\nports = [80, 70000]\n"),
             StartsWith("ports.toml:2:14: a port in [services.web] ports is 70000, outside 1 to 65535"));
  CHECK_THAT(error_of("[services.web]\nports = [0]\n"), Contains("is 0, outside 1 to 65535"));
  CHECK_THAT(error_of("[instances]\nbase = 70000\n[services.a]\nports=[1]\n"),
             StartsWith("ports.toml:2:8: [instances] base"));
  CHECK_THAT(error_of("[instances]\nmax = 0\n[services.a]\nports=[1]\n"), Contains("max"));
  CHECK_THAT(error_of("instances = 3\n"), Contains("[instances] must be a table"));
  CHECK_THAT(error_of("services = [1]\n"), Contains("[services] must be a table"));
  CHECK_THAT(error_of("[services]\nweb = 8080\n"), StartsWith("ports.toml:2:7: [services.web] must be a table"));
}

TEST_CASE("a service has exactly one of offset+size, ports or range") {
  CHECK_THAT(error_of("[services.web]\noffset = 0\nsize = 1\nports = [8080]\n"),
             StartsWith("ports.toml:1:11: [services.web] defines more than one pool"));
  CHECK_THAT(error_of("[services.web]\nports = [8080]\nrange = [8080, 8081]\n"), Contains("more than one pool"));
  CHECK_THAT(error_of("[services.web]\n"), Contains("[services.web] has no pool"));
  CHECK_THAT(error_of("[services.web]\noffset = 0\n"), Contains("has offset but no size"));
  CHECK_THAT(error_of("[services.web]\nsize = 2\n"), Contains("has size but no offset"));
}

TEST_CASE("port lists and ranges are checked") {
  CHECK_THAT(error_of("[services.web]\nports = []\n"), Contains("it has 0 entries"));
  CHECK_THAT(error_of("[services.web]\nports = 8080\n"), Contains("must be a list of ports"));
  CHECK_THAT(error_of("[services.web]\nrange = [8080]\n"), Contains("[first, last]"));
  CHECK_THAT(error_of("[services.web]\nrange = [8080, 8081, 8082]\n"), Contains("it has 3 entries"));
  CHECK_THAT(error_of("[services.web]\nrange = [8082, 8080]\n"),
             StartsWith("ports.toml:1:11: service 'web' has the range 8082-8080"));
  CHECK_THAT(error_of("[services.web]\nports = [8080, 8080]\n"), Contains("lists port 8080 twice"));
  CHECK_THAT(error_of("[services.\"no spaces\"]\nports = [8080]\n"), Contains("service name 'no spaces' is invalid"));
}

TEST_CASE("an invalid table names the file and the services involved") {
  auto overlap = error_of("[services.web]\nrange = [6000, 6001]\n[services.api]\noffset = 1\nsize = 2\n");
  CHECK_THAT(overlap, StartsWith("ports.toml: pools overlap at port 6001"));
  CHECK_THAT(overlap, Contains("'web'"));
  CHECK_THAT(overlap, Contains("'api'"));
  auto too_high = error_of("[instances]\nbase = 65000\nstride = 100\nmax = 20\n[services.api]\noffset = 0\nsize = 1\n");
  CHECK_THAT(too_high, StartsWith("ports.toml: 'api' for instance 7 (65600) reaches port 65600"));
  CHECK_THAT(error_of("[instances]\nstride = 5\n[services.api]\noffset = 3\nsize = 3\n"),
             Contains("does not fit inside the stride"));
  CHECK_THAT(error_of(""), StartsWith("ports.toml: the port table has no services"));
}

TEST_CASE("load_table_file loads a valid file and names the file it cannot read") {
  TempDir dir;
  auto valid = write_file(dir, "valid.toml", "[services.web]\nrange = [8080, 8081]\n");
  CHECK(load_table_file(valid).pool_for("web", 1) == Ports{8080, 8081});
  auto missing = dir.path() / "missing.toml";
  REQUIRE_THROWS_WITH(load_table_file(missing),
                      Contains("cannot read the config file " + missing.string()) && Contains("No such file"));
  REQUIRE_THROWS_WITH(load_table_file(dir.path()), Contains("is a directory"));
  auto broken = write_file(dir, "broken.toml", "[services.web]\nports = [8080\n");
  REQUIRE_THROWS_WITH(load_table_file(broken), StartsWith(broken.string() + ":"));
  auto empty = write_file(dir, "empty.toml", "");
  REQUIRE_THROWS_WITH(load_table_file(empty), Contains("no services"));
}

TEST_CASE("mangled config files give ConfigError, never another exception") {
  std::ifstream example(PORTPOOL_EXAMPLES_DIR "/qwen-valencia.toml");
  const std::string original(std::istreambuf_iterator<char>(example), {});
  REQUIRE_FALSE(original.empty());
  using namespace std::string_literals;
  const auto alphabet = "[]=\".,-#\n 0123456789azAZ_{}\xff\0"s;
  std::mt19937 random(12345);
  std::uniform_int_distribution<std::size_t> position(0, original.size() - 1);
  std::uniform_int_distribution<std::size_t> letter(0, alphabet.size() - 1);
  for (int round = 0; round < 2000; ++round) {
    auto text = original;
    for (int edit = 0; edit < 1 + round % 4; ++edit) {
      text[position(random)] = alphabet[letter(random)];
    }
    try {
      auto table = load_table(text, "mangled.toml");
      CHECK_FALSE(table.services().empty());
    } catch (const ConfigError& error) {
      CHECK_THAT(std::string(error.what()), StartsWith("mangled.toml"));
    }
  }
}

TEST_CASE("scope declares a service fleet-wide, and anything but host or fleet is an error at the value") {
  auto table = load_table(
      "[services.scheduler]\nports = [7100, 7101]\nscope = \"fleet\"\n"
      "[services.web]\noffset = 0\nsize = 2\nscope = \"host\"\n"
      "[services.worker]\nrange = [7200, 7201]\n",
      "ports.toml");
  CHECK(table.scope("scheduler") == PoolScope::fleet);
  CHECK(table.scope("web") == PoolScope::host);
  CHECK(table.scope("worker") == PoolScope::host);
  CHECK_THAT(error_of("[services.web]\nports = [80]\nscope = \"global\"\n"),
             StartsWith("ports.toml:3:9: [services.web] scope must be \"host\""));
  CHECK_THAT(error_of("[services.web]\nports = [80]\nscope = 1\n"), Contains("scope must be"));
}
