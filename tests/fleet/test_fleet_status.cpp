// `portpool status --fleet`: the listing, the stream of changes (--watch), and the errors.

#include "fleet_test.hpp"
#include "terminal_output.hpp"

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/port_pool_manager.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>

using namespace portpool;
using namespace portpool::test;

namespace {

std::string value_of(const std::string& service, std::int64_t pid, Transport transport = Transport::tcp) {
  fleet::FleetHolder holder;
  holder.transport = transport;
  holder.service = service;
  holder.instance = 1;
  holder.instance_id = "test";
  holder.pid = pid;
  holder.since = std::chrono::system_clock::now();
  holder.address = "10.1.2.3:9000";
  holder.boot_id = "0123abcd";
  return fleet::encode_holder(holder);
}

}  // namespace

TEST_CASE("status --fleet lists every host's holders sorted by host and port") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  etcd.put(fleet::port_key(prefix, "zeta", 9000), value_of("api-server", 10));
  etcd.put(fleet::port_key(prefix, "alpha", 9001), value_of("api-server", 11));
  etcd.put(fleet::port_key(prefix, "alpha", 7000), value_of("conversational", 12));
  etcd.put(fleet::port_key(prefix, "alpha", 7001), R"({"service":"evil","pid":"1; rm -rf /"})");  // untrusted

  auto text = run_cli({"status", "--fleet", "--etcd", endpoint, "--prefix", prefix});
  REQUIRE(text.exit_code == 0);
  auto alpha_7000 = text.out.find("alpha  7000");
  auto alpha_9001 = text.out.find("alpha  9001");
  auto zeta = text.out.find("zeta   9000");
  CHECK(alpha_7000 < alpha_9001);
  CHECK(alpha_9001 < zeta);
  CHECK(zeta != std::string::npos);
  CHECK(text.out.find("evil") == std::string::npos);
  CHECK(text.err.find("ignored") != std::string::npos);
  CHECK(text.err.find("/alpha/ports/7001") != std::string::npos);

  auto json = run_cli({"status", "--fleet", "--json", "--etcd", endpoint, "--prefix", prefix});
  REQUIRE(json.exit_code == 0);
  CHECK(nlohmann::json::parse(json.out)["format_version"] == 2);
  auto holders = nlohmann::json::parse(json.out)["holders"];
  REQUIRE(holders.size() == 3);
  CHECK(holders[0]["port"] == 7000);
  CHECK(holders[2]["host"] == "zeta");
  CHECK(holders[2]["address"] == "10.1.2.3:9000");
}

TEST_CASE("status --fleet shows each holder's transport: in --json always, as a column once one is not tcp") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  etcd.put(fleet::port_key(prefix, "alpha", 9000), value_of("api-server", 10));
  auto tcp_only = run_cli({"status", "--fleet", "--etcd", endpoint, "--prefix", prefix});
  REQUIRE(tcp_only.exit_code == 0);
  CHECK(tcp_only.out.find("TRANSPORT") == std::string::npos);

  etcd.put(fleet::port_key(prefix, "alpha", 5353), value_of("dns", 11, Transport::udp));
  etcd.put(fleet::port_key(prefix, "beta", 5300), value_of("quic", 12, Transport::both));
  auto json = run_cli({"status", "--fleet", "--json", "--etcd", endpoint, "--prefix", prefix});
  REQUIRE(json.exit_code == 0);
  auto holders = nlohmann::json::parse(json.out)["holders"];
  REQUIRE(holders.size() == 3);
  CHECK(holders[0]["port"] == 5353);
  CHECK(holders[0]["transport"] == "udp");
  CHECK(holders[1]["port"] == 9000);
  CHECK(holders[1]["transport"] == "tcp");
  CHECK(holders[2]["transport"] == "both");

  auto text = run_cli({"status", "--fleet", "--etcd", endpoint, "--prefix", prefix});
  REQUIRE(text.exit_code == 0);
  CHECK(text.out.rfind("HOST   PORT  TRANSPORT  SERVICE", 0) == 0);
  CHECK(text.out.find("alpha  5353  udp        dns") != std::string::npos);
  CHECK(text.out.find("alpha  9000  tcp        api-server") != std::string::npos);
  CHECK(text.out.find("beta   5300  both       quic") != std::string::npos);
}

TEST_CASE("status --fleet prints a hostile key escaped, in the listing, --json and --watch") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  etcd.put(fleet::port_key(prefix, "web-3", 9000), value_of("api-server", 10));
  // Inside web-3's own prefix, which web-3's publisher may write.
  etcd.put(fleet::host_ports_prefix(prefix, "web-3") + std::string(terminal_attack), "{}");
  auto escaped_key = fleet::host_ports_prefix(prefix, "web-3") + std::string(escaped_terminal_attack);

  auto text = run_cli({"status", "--fleet", "--etcd", endpoint, "--prefix", prefix});
  CHECK(text.exit_code == 0);
  CHECK_FALSE(drives_terminal(text.out));
  CHECK_FALSE(drives_terminal(text.err));
  CHECK(text.out.find("web-3  9000") != std::string::npos);
  CHECK(text.err.find("ignored: the fleet record " + escaped_key + " is invalid") != std::string::npos);

  auto json = run_cli({"status", "--fleet", "--json", "--etcd", endpoint, "--prefix", prefix});
  CHECK(json.exit_code == 0);
  CHECK_FALSE(drives_terminal(json.out));
  CHECK_FALSE(drives_terminal(json.err));
  CHECK(json.err.find(escaped_key) != std::string::npos);
  CHECK(nlohmann::json::parse(json.out)["holders"].size() == 1);

  TempDir scratch;
  auto watcher =
      spawn_cli({"status", "--fleet", "--watch", "--etcd", endpoint, "--prefix", prefix}, scratch.path() / "err.log");
  auto header = watcher.read_line();  // the problems of the listing are written before it
  REQUIRE(header);
  CHECK_FALSE(drives_terminal(*header));
  auto problems = text_of(scratch.path() / "err.log");
  CHECK_FALSE(drives_terminal(problems));
  CHECK(problems.find(escaped_key) != std::string::npos);
  watcher.signal(SIGTERM);
  watcher.wait();
}

TEST_CASE("status --fleet --watch lists, then streams each change") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  etcd.put(fleet::port_key(prefix, "alpha", 9000), value_of("api-server", 10));
  TempDir scratch;
  auto watcher = spawn_cli({"status", "--fleet", "--watch", "--json", "--etcd", endpoint, "--prefix", prefix},
                           scratch.path() / "err.log");
  auto snapshot = watcher.read_line();
  REQUIRE(snapshot);
  auto listed = nlohmann::json::parse(*snapshot);
  CHECK(listed["event"] == "snapshot");
  CHECK(listed["format_version"] == 2);
  REQUIRE(listed["holders"].size() == 1);

  etcd.put(fleet::port_key(prefix, "beta", 9001), value_of("api-server", 11, Transport::udp));
  auto put = watcher.read_line();
  REQUIRE(put);
  auto added = nlohmann::json::parse(*put);
  CHECK(added["event"] == "put");
  CHECK(added["format_version"] == 2);
  CHECK(added["host"] == "beta");
  CHECK(added["holder"]["pid"] == 11);
  CHECK(added["holder"]["transport"] == "udp");
  CHECK(added["revision"].get<std::int64_t>() > listed["revision"].get<std::int64_t>());

  etcd.delete_key(fleet::port_key(prefix, "alpha", 9000));
  auto deleted = watcher.read_line();
  REQUIRE(deleted);
  auto removed = nlohmann::json::parse(*deleted);
  CHECK(removed["event"] == "delete");
  CHECK(removed["host"] == "alpha");
  CHECK(removed["port"] == 9000);
  watcher.signal(SIGTERM);
  watcher.wait();
}

TEST_CASE("status --fleet without a reachable etcd exits 69 naming the endpoint") {
  auto closed = ReservedPorts::any(1);
  auto dead = "http://127.0.0.1:" + std::to_string(closed[0]);
  auto result = run_cli({"status", "--fleet", "--etcd", dead});
  CHECK(result.exit_code == 69);
  CHECK(result.err.find(dead) != std::string::npos);
  CHECK(result.out.empty());
}

TEST_CASE("fleet commands reject wrong arguments with a usage or config error") {
  auto no_etcd = run_cli({"status", "--fleet"});
  CHECK(no_etcd.exit_code == 64);
  CHECK(no_etcd.err.find("--etcd") != std::string::npos);
  auto watch_alone = run_cli({"status", "--watch", "--etcd", shared_etcd()});
  CHECK(watch_alone.exit_code == 64);
  auto bad_url = run_cli({"status", "--fleet", "--etcd", "ftp://x:1"});
  CHECK(bad_url.exit_code == 78);
  CHECK(bad_url.err.find("ftp://x:1") != std::string::npos);
  auto bad_prefix = run_cli({"status", "--fleet", "--etcd", shared_etcd(), "--prefix", "nope"});
  CHECK(bad_prefix.exit_code == 78);
  auto bad_ttl = run_cli({"publish", "--etcd", shared_etcd(), "--host-id", "h", "--ttl", "soon"});
  CHECK(bad_ttl.exit_code == 64);
  CHECK(bad_ttl.err.find("--ttl") != std::string::npos);
  auto bad_host = run_cli({"publish", "--etcd", shared_etcd(), "--host-id", "a/b"});
  CHECK(bad_host.exit_code == 78);
  CHECK(bad_host.err.find("host id") != std::string::npos);
}
