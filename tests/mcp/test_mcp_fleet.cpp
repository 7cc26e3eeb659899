// The MCP server's fleet view: list_holders with scope "fleet" answers what `portpool status
// --fleet --json` answers (every host's holders in etcd, sorted by host and port); without --etcd,
// with etcd unreachable or with an unknown scope it is a tool error that says why. Plain JSON-RPC
// over HTTP: the SDK's own checks are in test_mcp_server.

#include "fleet_test.hpp"
#include "http_client.hpp"

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_holder.hpp>

#include <catch2/catch.hpp>

#include <fstream>

using namespace portpool;
using namespace portpool::test;

namespace {

// An mcp_server process with `arguments`, started (its start event read) before the test goes on.
struct RunningServer {
  explicit RunningServer(const std::vector<std::string>& arguments) : process(spawn(arguments)) {
    while (auto line = process.read_line()) {
      auto event = nlohmann::json::parse(*line, nullptr, false);
      if (event.is_object() && event.value("event", "") == "start") {
        port = event.at("port").get<std::uint16_t>();
        return;
      }
    }
    throw std::runtime_error("mcp_server did not start");
  }

  ChildProcess spawn(const std::vector<std::string>& arguments) const {
    auto config = directory.path() / "ports.toml";
    std::ofstream(config) << "[instances]\nmax = 1\n\n[services.mcp-universal]\nports = [" << ports[0] << "]\n";
    std::vector<std::string> command{
        "/bin/sh",       "-c",         R"(exec "$0" "$@" 2>&1)",     MCP_SERVER, "--config",
        config.string(), "--lock-dir", directory.lock_dir().string()};
    command.insert(command.end(), arguments.begin(), arguments.end());
    return ChildProcess::spawn(command);
  }

  TempDir directory;
  ReservedPorts ports = ReservedPorts::any(1);
  ChildProcess process;
  std::uint16_t port = 0;
};

nlohmann::json call(std::uint16_t port, const std::string& method, const nlohmann::json& params) {
  nlohmann::json request{{"jsonrpc", "2.0"}, {"id", 7}, {"method", method}, {"params", params}};
  HeaderList headers{{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}};
  auto reply = HttpClient(port).request(http::verb::post, "/mcp", request.dump(), headers);
  REQUIRE(reply.status == 200);
  return reply.json().at("result");
}

nlohmann::json list_holders(std::uint16_t port, const nlohmann::json& arguments) {
  return call(port, "tools/call", {{"name", "list_holders"}, {"arguments", arguments}});
}

std::string error_text(const nlohmann::json& result) {
  CHECK(result.at("isError") == true);
  return result.at("content").at(0).at("text").get<std::string>();
}

void publish(fleet::EtcdClient& etcd, const std::string& prefix, const std::string& host, std::uint16_t port) {
  fleet::FleetHolder holder;
  holder.service = "api-server";
  holder.instance = 2;
  holder.instance_id = "test";
  holder.pid = 4242;
  holder.since = std::chrono::system_clock::now();
  holder.address = host + ":" + std::to_string(port);
  holder.boot_id = "0123abcd";
  etcd.put(fleet::port_key(prefix, host, port), fleet::encode_holder(holder));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("list_holders with scope fleet lists every host's holders, sorted by host and port") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  publish(etcd, prefix, "zeta", 9000);
  publish(etcd, prefix, "alpha", 9001);
  publish(etcd, prefix, "alpha", 7000);
  RunningServer running({"--etcd", endpoint, "--prefix", prefix});
  auto port = running.port;

  auto result = list_holders(port, {{"scope", "fleet"}});
  CHECK(result.at("isError") == false);
  auto holders = result.at("structuredContent").at("holders");
  REQUIRE(holders.size() == 3);
  CHECK(holders[0]["host"] == "alpha");
  CHECK(holders[0]["port"] == 7000);
  CHECK(holders[1]["port"] == 9001);
  CHECK(holders[2]["host"] == "zeta");
  CHECK(holders[2]["address"] == "zeta:9000");
  CHECK(holders[2]["instance"] == 2);
  CHECK(result.at("structuredContent").at("revision").get<std::int64_t>() > 0);

  SECTION("scope host, like no scope, is this host's lock directory") {
    for (const auto& arguments : {nlohmann::json::object(), nlohmann::json{{"scope", "host"}}}) {
      auto local = list_holders(port, arguments).at("structuredContent");
      CHECK(local.at("lock_dir") == running.directory.lock_dir().string());
      REQUIRE(local.at("holders").size() == 1);
      CHECK(local.at("holders")[0]["port"] == port);
    }
  }
  SECTION("an unknown scope is a tool error naming both scopes") {
    auto text = error_text(list_holders(port, {{"scope", "galaxy"}}));
    CHECK(contains(text, "galaxy"));
    CHECK(contains(text, "fleet"));
    CHECK(contains(error_text(list_holders(port, {{"scope", 1}})), "\"host\" or \"fleet\""));
  }
  SECTION("the tool's input schema offers the two scopes") {
    auto listing = call(port, "tools/list", nlohmann::json::object());
    for (const auto& tool : listing.at("tools")) {
      if (tool.at("name") == "list_holders") {
        CHECK(tool.at("inputSchema").at("properties").at("scope").at("enum") ==
              nlohmann::json::array({"host", "fleet"}));
        CHECK(contains(tool.at("description").get<std::string>(), "fleet"));
      }
    }
  }
}

TEST_CASE("list_holders with scope fleet and no --etcd is a tool error naming --etcd") {
  RunningServer running({});
  CHECK(contains(error_text(list_holders(running.port, {{"scope", "fleet"}})), "--etcd"));
}

TEST_CASE("list_holders with scope fleet and etcd unreachable is a tool error naming the endpoint") {
  auto closed = ReservedPorts::any(1);
  auto dead = "http://127.0.0.1:" + std::to_string(closed[0]);
  RunningServer running({"--etcd", dead});
  CHECK(contains(error_text(list_holders(running.port, {{"scope", "fleet"}})), dead));
}
