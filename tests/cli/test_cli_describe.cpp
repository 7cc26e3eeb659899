// `portpool run --protocol/--health/--service-version/--tag/--meta` and a config file's service
// description, as `portpool status` shows them.

#include "cli.hpp"

#include <catch2/catch.hpp>

#include <string>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::ready_port;
using portpool::test::ReservedPorts;
using portpool::test::run_portpool;
using portpool::test::shared_pool_config;
using portpool::test::spawn_portpool;
using portpool::test::TempDir;
using portpool::test::write_config;

TEST_CASE("a description given on the command line shows in status, as JSON and in the table") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = shared_pool_config(dir, "web", ports.ports());
  auto holder = spawn_portpool({"run",
                                "--config",
                                config.string(),
                                "--lock-dir",
                                dir.lock_dir().string(),
                                "--protocol",
                                "http",
                                "--health",
                                "/healthz",
                                "--service-version",
                                "1.4.2",
                                "--tag",
                                "public",
                                "--tag",
                                "edge",
                                "--meta",
                                "type=api",
                                "--meta",
                                "owner=team a",
                                "web",
                                "--",
                                PORTPOOL_CLI_CHILD,
                                "hold"});
  REQUIRE(ready_port(holder) == ports[0]);

  auto list = holders(dir.lock_dir());
  REQUIRE(list.size() == 1);
  CHECK(list[0].at("protocol") == "http");
  CHECK(list[0].at("health") == "/healthz");
  CHECK(list[0].at("version") == "1.4.2");
  CHECK(list[0].at("tags") == nlohmann::json::parse(R"(["public", "edge"])"));
  CHECK(list[0].at("meta") == nlohmann::json::parse(R"({"owner": "team a", "type": "api"})"));

  auto text = run_portpool({"status", "--lock-dir", dir.lock_dir().string()});
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Contains("SERVES"));
  CHECK_THAT(text.out, Contains("http /healthz 1.4.2 [public,edge]"));
  holder.close_stdin();
  CHECK(finish(holder).exit_code == 0);
}

TEST_CASE("a config file's description is the default, and flags override it field by field") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = write_config(dir, "[services.llm]\nports = [" + std::to_string(ports[0]) +
                                      "]\nprotocol = \"http\"\nhealth = \"/health\"\ntags = [\"local\"]\n"
                                      "meta = { type = \"mcp\" }\n");
  auto holder = spawn_portpool({"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), "--health",
                                "/ready", "--meta", "model=small", "llm", "--", PORTPOOL_CLI_CHILD, "hold"});
  REQUIRE(ready_port(holder) == ports[0]);
  auto list = holders(dir.lock_dir());
  REQUIRE(list.size() == 1);
  CHECK(list[0].at("protocol") == "http");
  CHECK(list[0].at("health") == "/ready");
  CHECK(list[0].at("version").is_null());
  CHECK(list[0].at("tags") == nlohmann::json::parse(R"(["local"])"));
  CHECK(list[0].at("meta") == nlohmann::json::parse(R"({"model": "small", "type": "mcp"})"));
  holder.close_stdin();
  CHECK(finish(holder).exit_code == 0);
}

TEST_CASE("a holder without a description shows nulls and empty lists") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = shared_pool_config(dir, "web", ports.ports());
  auto holder = spawn_portpool({"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), "web", "--",
                                PORTPOOL_CLI_CHILD, "hold"});
  REQUIRE(ready_port(holder) == ports[0]);
  auto list = holders(dir.lock_dir());
  REQUIRE(list.size() == 1);
  CHECK(list[0].at("protocol").is_null());
  CHECK(list[0].at("tags").empty());
  CHECK(list[0].at("meta").empty());
  holder.close_stdin();
  CHECK(finish(holder).exit_code == 0);
}

TEST_CASE("a malformed or oversized description is a usage error and nothing is held or run") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = shared_pool_config(dir, "web", ports.ports());
  struct Case {
    std::vector<std::string> flags;
    std::string message;
  };
  auto [flags, message] = GENERATE(values<Case>({
      {{"--meta", "novalue"}, "--meta novalue has no '=': write --meta KEY=VALUE"},
      {{"--meta", "a=1", "--meta", "a=2"}, "--meta a is given twice"},
      {{"--protocol", "HTTP"}, "the protocol 'HTTP' is invalid"},
      {{"--health", "health"}, "the health path 'health' is invalid"},
      {{"--tag", "two words"}, "the tag 'two words' is invalid"},
      {{"--meta", "note=" + std::string(300, 'x')}, "the metadata value of 'note' is invalid"},
  }));
  CAPTURE(message);
  std::vector<std::string> arguments{"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string()};
  arguments.insert(arguments.end(), flags.begin(), flags.end());
  arguments.insert(arguments.end(), {"web", "--", PORTPOOL_CLI_CHILD, "env"});
  auto run = run_portpool(arguments);
  CHECK(run.exit_code == 64);
  CHECK_THAT(run.err, StartsWith("portpool: "));
  CHECK_THAT(run.err, Contains(message));
  CHECK(run.out.empty());
  CHECK(holders(dir.lock_dir()).empty());
}
