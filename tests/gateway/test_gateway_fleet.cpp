// The gateway's fleet view: /api/services?scope=fleet answers what `portpool status --fleet --json`
// answers (every host's holders in etcd, sorted by host and port), and says clearly when it cannot:
// no --etcd (400), etcd unreachable (503), an unknown scope (400). scope=host is the local registry.

#include "fleet_test.hpp"
#include "gateway_process.hpp"
#include "http_client.hpp"

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_holder.hpp>

#include <catch2/catch.hpp>

using namespace portpool;
using namespace portpool::test;

namespace {

void publish(fleet::EtcdClient& etcd, const std::string& prefix, const std::string& host, std::uint16_t port,
             const std::string& service) {
  fleet::FleetHolder holder;
  holder.service = service;
  holder.instance = 1;
  holder.instance_id = "test";
  holder.pid = 4242;
  holder.since = std::chrono::system_clock::now();
  holder.address = host + ":" + std::to_string(port);
  holder.boot_id = "0123abcd";
  etcd.put(fleet::port_key(prefix, host, port), fleet::encode_holder(holder));
}

std::string unreachable_endpoint() {
  auto closed = ReservedPorts::any(1);
  return "http://127.0.0.1:" + std::to_string(closed[0]);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("GET /api/services?scope=fleet lists every host's holders as status --fleet --json does") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  publish(etcd, prefix, "zeta", 9000, "api-server");
  publish(etcd, prefix, "alpha", 9001, "api-server");
  publish(etcd, prefix, "alpha", 7000, "conversational");
  etcd.put(fleet::port_key(prefix, "alpha", 7001), R"({"service":"evil"})");  // untrusted: skipped

  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir(),
                                {"--etcd", endpoint, "--prefix", prefix});

  auto reply = http_get(gateway.port(), "/api/services?scope=fleet");
  REQUIRE(reply.status == 200);
  auto listing = reply.json();
  auto holders = listing.at("holders");
  REQUIRE(holders.size() == 3);
  CHECK(holders[0]["host"] == "alpha");
  CHECK(holders[0]["port"] == 7000);
  CHECK(holders[1]["port"] == 9001);
  CHECK(holders[2]["host"] == "zeta");
  CHECK(holders[2]["address"] == "zeta:9000");
  CHECK(listing.at("revision").get<std::int64_t>() > 0);
#ifdef PORTPOOL_CLI
  TempDir scratch;
  auto status =
      spawn_cli({"status", "--fleet", "--json", "--etcd", endpoint, "--prefix", prefix}, scratch.path() / "err.log");
  std::string printed;
  while (auto line = status.read_line()) {
    printed += *line + '\n';
  }
  REQUIRE(status.exit_code() == 0);
  auto status_listing = nlohmann::json::parse(printed);
  CHECK(status_listing.at("holders") == listing.at("holders"));
  // the revision is etcd's, which the other tests' writes move on meanwhile
  CHECK(status_listing.at("revision") >= listing.at("revision"));
#endif

  SECTION("scope=host, like no scope, is this host's lock directory") {
    for (const auto* target : {"/api/services", "/api/services?scope=host"}) {
      auto local = http_get(gateway.port(), target);
      REQUIRE(local.status == 200);
      CHECK(local.json().at("lock_dir") == directory.lock_dir().string());
      REQUIRE(local.json().at("services").size() == 1);
      CHECK(local.json().at("services")[0]["port"] == gateway.port());
    }
  }
  SECTION("an unknown scope is a bad request naming both scopes") {
    auto unknown = http_get(gateway.port(), "/api/services?scope=galaxy");
    CHECK(unknown.status == 400);
    auto error = unknown.json().at("error").get<std::string>();
    CHECK(contains(error, "galaxy"));
    CHECK(contains(error, "host"));
    CHECK(contains(error, "fleet"));
  }
}

TEST_CASE("GET /api/services?scope=fleet without --etcd is a bad request naming --etcd") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());
  auto reply = http_get(gateway.port(), "/api/services?scope=fleet");
  CHECK(reply.status == 400);
  CHECK(contains(reply.json().at("error").get<std::string>(), "--etcd"));
  CHECK(http_get(gateway.port(), "/api/services").status == 200);
}

TEST_CASE("GET /api/services?scope=fleet with etcd unreachable is 503 naming the endpoint") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto dead = unreachable_endpoint();
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir(), {"--etcd", dead});
  auto reply = http_get(gateway.port(), "/api/services?scope=fleet");
  CHECK(reply.status == 503);
  CHECK(contains(reply.json().at("error").get<std::string>(), dead));
  CHECK(http_get(gateway.port(), "/api/services").status == 200);
}
