// Service descriptions: validated before anything is held, published in the holder record, read
// back by Registry, and taken from a TOML service entry as defaults.

#include <portpool/config_file.hpp>
#include <portpool/impl/record.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <string>

using Catch::Matchers::Contains;
using namespace portpool;
using namespace portpool::test;

namespace {

ServiceDescription full_description() {
  ServiceDescription description;
  description.protocol = "http";
  description.health_path = "/api/health?deep=1";
  description.version = "2.4.1-rc1";
  description.tags = {"gateway", "public"};
  description.metadata = {{"type", "api"}, {"capabilities", "chat, tools; streaming"}};
  return description;
}

std::string problem_of(const ServiceDescription& description) {
  try {
    validate_description(description);
  } catch (const ConfigError& error) {
    return error.what();
  }
  return {};
}

}  // namespace

TEST_CASE("a description is published with the hold and read back by the registry") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  options.description = full_description();
  PortPoolManager manager("described", ports.ports(), options);
  auto lease = manager.acquire();
  auto holders = Registry::holders(options);
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].description == full_description());
  lease.set_readiness(Readiness::ready);  // rewriting the record keeps the description
  auto again = Registry::holder_of(lease.port(), options);
  REQUIRE(again.has_value());
  CHECK(again->description == full_description());
  CHECK(again->readiness == Readiness::ready);
}

TEST_CASE("a metadata entry set while the port is held is published, and one the limits refuse changes nothing") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  options.description = full_description();
  PortPoolManager manager("described", ports.ports(), options);
  auto lease = manager.acquire();
  lease.set_metadata("liveness", "ok");
  lease.set_metadata("type", "api v2");
  auto expected = full_description();
  expected.metadata["liveness"] = "ok";
  expected.metadata["type"] = "api v2";
  auto holder = Registry::holder_of(lease.port(), options);
  REQUIRE(holder.has_value());
  CHECK(holder->description == expected);

  REQUIRE_THROWS_WITH(lease.set_metadata("liveness", "line\nport=1"),
                      Contains("the metadata value of 'liveness' is invalid"));
  REQUIRE_THROWS_WITH(lease.set_metadata("bad key", "x"), Contains("the metadata key 'bad key' is invalid"));
  holder = Registry::holder_of(lease.port(), options);
  REQUIRE(holder.has_value());
  CHECK(holder->description == expected);

  lease.release();
  lease.set_metadata("liveness", "failed");  // a lease that holds nothing has no record to change
  CHECK(Registry::holders(options).empty());
}

TEST_CASE("an invalid description is refused with the reason before any port is held") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  std::string expected;
  SECTION("protocol") {
    options.description.protocol = "HTTP/1.1";
    expected = "the protocol 'HTTP/1.1' is invalid";
  }
  SECTION("health path") {
    options.description.health_path = "health";
    expected = "it must start with '/'";
  }
  SECTION("version with a newline") {
    options.description.version = "1.0\nport=1";
    expected = "the version";
  }
  SECTION("tag") {
    options.description.tags = {"ok", "not ok"};
    expected = "the tag 'not ok' is invalid";
  }
  SECTION("repeated tag") {
    options.description.tags = {"a", "a"};
    expected = "the tag 'a' is given twice";
  }
  SECTION("metadata key") {
    options.description.metadata = {{"bad key", "x"}};
    expected = "the metadata key 'bad key' is invalid";
  }
  SECTION("metadata value") {
    options.description.metadata = {{"type", std::string(257, 'x')}};
    expected = "the metadata value of 'type' is invalid";
  }
  SECTION("too many metadata entries") {
    for (int entry = 0; entry < 17; ++entry) {
      options.description.metadata[fmt::format("key{}", entry)] = "v";
    }
    expected = "17 metadata entries are too many";
  }
  SECTION("the whole description too large for a record") {
    for (int entry = 0; entry < 16; ++entry) {
      options.description.metadata[fmt::format("key{}", entry)] = std::string(250, 'v');
    }
    expected = "more than the 3072 a holder record has room for";
  }
  REQUIRE_THROWS_WITH(PortPoolManager("described", ports.ports(), options), Contains(expected));
  CHECK(Registry::holders(options).empty());
  CHECK(problem_of(options.description).find("invalid service description") == 0);
}

TEST_CASE("a description of nearly the largest size, every field at its limit, fits in a record") {
  ServiceDescription description;
  description.protocol = std::string(16, 'p');
  description.health_path = "/" + std::string(255, 'h');
  description.version = std::string(64, 'v');
  for (int tag = 0; tag < 16; ++tag) {
    description.tags.push_back(fmt::format("{:0>64}", tag));
  }
  for (int entry = 0; entry < 5; ++entry) {  // 3011 bytes in all, of 3072
    description.metadata[fmt::format("{:0>64}", entry)] = std::string(256, 'm');
  }
  REQUIRE(problem_of(description).empty());
  description.metadata["one-more"] = std::string(60, 'm');
  REQUIRE_THAT(problem_of(description), Contains("takes 3086 bytes"));
  description.metadata.erase("one-more");
  Holder holder;
  holder.port = 65535;
  holder.service = std::string(64, 's');
  holder.pid = 2147483647;
  holder.instance = 4294967295U;
  holder.instance_id = std::string(64, 'i');
  holder.readiness = Readiness::stopping;
  holder.description = description;
  auto record = detail::format_record(holder);
  CHECK(record.size() < detail::max_record_size);
  auto parsed = detail::parse_record(record);
  REQUIRE(parsed.has_value());
  CHECK(parsed->description == description);
}

TEST_CASE("a table's description is the default of its managers, field by field") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto table = load_table(fmt::format(R"(
[services.ollama]
ports = [{}, {}]
protocol = "http"
health = "/health"
version = "0.3"
tags = ["llm", "local"]
meta = {{ type = "mcp", capabilities = "tools" }}
)",
                                      ports[0], ports[1]),
                          "described.toml");
  CHECK(table.description("ollama").tags == std::vector<std::string>{"llm", "local"});
  auto options = options_in(directory);
  options.description.version = "0.4";
  options.description.metadata["type"] = "llm";
  PortPoolManager manager(table, "ollama", options);
  auto lease = manager.acquire();
  auto holder = Registry::holder_of(lease.port(), options);
  REQUIRE(holder.has_value());
  CHECK(holder->description.protocol == "http");
  CHECK(holder->description.health_path == "/health");
  CHECK(holder->description.version == "0.4");
  CHECK(holder->description.metadata == std::map<std::string, std::string>{{"capabilities", "tools"}, {"type", "llm"}});
}

TEST_CASE("a config file's invalid description is reported at its service") {
  auto error_of = [](const std::string& toml) -> std::string {
    try {
      load_table(toml, "ports.toml");
    } catch (const ConfigError& error) {
      return error.what();
    }
    return "no error";
  };
  CHECK_THAT(error_of("[services.web]\nports = [9000]\nprotocol = 1\n"),
             Contains("ports.toml:3:12: [services.web] protocol must be a string"));
  CHECK_THAT(error_of("[services.web]\nports = [9000]\ntags = \"a\"\n"), Contains("tags must be a list of strings"));
  CHECK_THAT(error_of("[services.web]\nports = [9000]\nmeta = { type = 2 }\n"),
             Contains("[services.web] meta.type must be a string"));
  CHECK_THAT(error_of("[services.web]\nports = [9000]\nhealth = \"up\"\n"),
             Contains("ports.toml:1:11: invalid service description: the health path 'up' is invalid"));
  CHECK_THAT(error_of("[services.web]\nports = [9000]\nhealt = \"/up\"\n"),
             Contains("unknown key 'healt' in [services.web]"));
}
