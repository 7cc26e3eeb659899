// `portpool publish` against a real etcd: agents for simulated hosts (a host id and a lock
// directory each) mirror the holders of their lock directory, keep them current, and recover
// from a killed agent, a lost lease and an etcd restart.

#include "fleet_test.hpp"

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_view.hpp>
#include <portpool/port_pool_manager.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <thread>

using namespace portpool;
using namespace portpool::test;
using Clock = std::chrono::steady_clock;

namespace {

PortLease hold(const TempDir& host, const std::string& service, std::uint16_t port) {
  Options options;
  options.lock_dir = host.lock_dir();
  return PortPoolManager(service, {port}, options).acquire();
}

bool log_contains(const TempDir& dir, const std::string& text) {
  return text_of(dir.path() / "agent.log").find(text) != std::string::npos;
}

// How long after `change()` the watch sees a change of `key` (a put, or a delete when `deleted`).
template <class Change>
std::chrono::milliseconds time_until_seen(fleet::EtcdClient& etcd, const std::string& key, bool deleted,
                                          Change change) {
  auto watch = etcd.watch_prefix(key, 0);
  auto start = Clock::now();
  change();
  fleet::WatchBatch batch;
  while (watch->next(batch)) {
    for (const auto& event : batch.events) {
      if (event.value.key == key && (event.type == fleet::WatchEvent::Type::deleted) == deleted) {
        watch->cancel();
        return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      }
    }
  }
  FAIL("the watch ended before the change was seen");
  return {};
}

}  // namespace

TEST_CASE("two agents for two hosts publish their holders, and status --fleet shows both") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  TempDir host_a;
  TempDir host_b;
  auto ports = ReservedPorts::any(3);
  auto a1 = hold(host_a, "api-server", ports[0]);
  auto a2 = hold(host_a, "mcp-universal", ports[1]);
  auto b1 = hold(host_b, "api-server", ports[2]);
  auto agent_a = spawn_agent(endpoint, prefix, "host-a", host_a.lock_dir(), host_a.path() / "agent.log");
  auto agent_b = spawn_agent(endpoint, prefix, "host-b", host_b.lock_dir(), host_b.path() / "agent.log");
  REQUIRE(wait_for_view(etcd, prefix,
                        {located("host-a", ports[0]), located("host-a", ports[1]), located("host-b", ports[2])}));

  auto view = fleet::read_fleet(etcd, prefix);
  REQUIRE(view.holders.size() == 3);
  CHECK(view.rejected.empty());
  const auto& first = view.holders[0];
  CHECK(first.host == "host-a");
  CHECK(first.service == (ports[0] < ports[1] ? "api-server" : "mcp-universal"));
  CHECK(first.pid == ::getpid());
  CHECK(first.address == "127.0.0.1:" + std::to_string(first.port));
  CHECK_FALSE(first.boot_id.empty());

  TempDir scratch;
  auto status =
      spawn_cli({"status", "--fleet", "--json", "--etcd", endpoint, "--prefix", prefix}, scratch.path() / "status.log");
  std::string out;
  while (auto line = status.read_line()) {
    out += *line + '\n';
  }
  REQUIRE(status.exit_code() == 0);
  auto json = nlohmann::json::parse(out);
  REQUIRE(json["holders"].size() == 3);
  CHECK(json["holders"][0]["host"] == "host-a");
  CHECK(json["holders"][2]["host"] == "host-b");
  CHECK(json["holders"][2]["port"] == ports[2]);
  CHECK(json["holders"][2]["service"] == "api-server");
  CHECK(json["holders"][2]["instance"] == 1);
  CHECK(json["revision"].get<std::int64_t>() > 0);

  agent_a.signal(SIGTERM);  // a clean stop revokes the lease: the host's keys go at once
  CHECK(agent_a.exit_code() == 0);
  CHECK(wait_for_view(etcd, prefix, {located("host-b", ports[2])}, std::chrono::seconds(2)));
}

TEST_CASE("an acquisition and a release are in etcd within 100 ms") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto agent = spawn_agent(endpoint, prefix, "host-a", host.lock_dir(), host.path() / "agent.log");
  REQUIRE(wait_until([&] { return log_contains(host, "publishing host"); }));
  auto key = fleet::port_key(prefix, "host-a", ports[0]);

  // Five rounds; the median must meet the target, and no round may be far off it (a loaded
  // machine may delay one).
  std::vector<std::chrono::milliseconds> appeared;
  std::vector<std::chrono::milliseconds> vanished;
  for (int round = 0; round < 5; ++round) {
    std::optional<PortLease> lease;
    appeared.push_back(time_until_seen(etcd, key, false, [&] { lease.emplace(hold(host, "api-server", ports[0])); }));
    vanished.push_back(time_until_seen(etcd, key, true, [&] { lease->release(); }));
  }
  std::sort(appeared.begin(), appeared.end());
  std::sort(vanished.begin(), vanished.end());
  INFO("appeared after (ms): " << appeared[0].count() << " .. " << appeared[4].count());
  INFO("vanished after (ms): " << vanished[0].count() << " .. " << vanished[4].count());
  CHECK(appeared[2] < std::chrono::milliseconds(100));
  CHECK(vanished[2] < std::chrono::milliseconds(100));
  CHECK(appeared[4] < std::chrono::seconds(1));
  CHECK(vanished[4] < std::chrono::seconds(1));
}

TEST_CASE("a holder killed with SIGKILL disappears from etcd") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto agent = spawn_agent(endpoint, prefix, "host-a", host.lock_dir(), host.path() / "agent.log");
  auto holder = ChildProcess::spawn(
      {PORTPOOL_TEST_HOLDER, "port", host.lock_dir().string(), "api-server", std::to_string(ports[0])});
  REQUIRE(holder.read_line() == "ACQUIRED " + std::to_string(ports[0]));
  REQUIRE(wait_for_view(etcd, prefix, {located("host-a", ports[0])}));
  holder.signal(SIGKILL);  // its record stays behind, but its lock is gone: not a holder any more
  holder.wait();
  CHECK(wait_for_view(etcd, prefix, {}, std::chrono::seconds(2)));
}

TEST_CASE("a SIGKILLed agent's keys vanish within TTL + 1 s") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  TempDir host;
  auto ports = ReservedPorts::any(2);
  auto lease_a = hold(host, "api-server", ports[0]);
  auto lease_b = hold(host, "api-server", ports[1]);
  auto agent = spawn_agent(endpoint, prefix, "host-a", host.lock_dir(), host.path() / "agent.log", "2s");
  REQUIRE(wait_for_view(etcd, prefix, {located("host-a", ports[0]), located("host-a", ports[1])}));
  auto key = fleet::port_key(prefix, "host-a", ports[0]);
  auto ttl = std::chrono::seconds(2);  // the agent's lease: etcd keeps 2 s (its minimum here is 1 s)
  auto gone_after = time_until_seen(etcd, key, true, [&] {
    agent.signal(SIGKILL);
    agent.wait();
  });
  INFO("vanished after " << gone_after.count() << " ms");
  CHECK(gone_after <= ttl + std::chrono::seconds(1));
  CHECK(gone_after >= ttl - std::chrono::milliseconds(ttl.count() * 1000 / 3 + 100));  // the lease, not a delete
  CHECK(wait_for_view(etcd, prefix, {}, std::chrono::seconds(1)));
}

TEST_CASE("a partition longer than the TTL: the keys vanish, then come back") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto lease = hold(host, "api-server", ports[0]);
  auto agent = spawn_agent(endpoint, prefix, "host-a", host.lock_dir(), host.path() / "agent.log", "1s");
  REQUIRE(wait_for_view(etcd, prefix, {located("host-a", ports[0])}));
  agent.signal(SIGSTOP);  // the agent cannot renew, as if cut off from etcd
  CHECK(wait_for_view(etcd, prefix, {}, std::chrono::seconds(5)));
  agent.signal(SIGCONT);
  CHECK(wait_for_view(etcd, prefix, {located("host-a", ports[0])}, std::chrono::seconds(5)));
  CHECK(wait_until([&] { return log_contains(host, "the lease expired"); }, std::chrono::seconds(5)));
}

TEST_CASE("etcd down at start: the agent says so, retries, and publishes once etcd is up") {
  TempDir etcd_dir;
  EtcdServer server;
  server.directory = etcd_dir.path();
  server.client_port = free_port();
  server.peer_port = free_port();
  EtcdStopper stopper(server);
  auto prefix = unique_prefix();
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto agent = spawn_agent(server.endpoint(), prefix, "host-a", host.lock_dir(), host.path() / "agent.log");
  REQUIRE(wait_until([&] { return log_contains(host, "cannot reach etcd"); }));
  CHECK(log_contains(host, server.endpoint()));
  auto lease = hold(host, "api-server", ports[0]);  // local acquisition does not need etcd
  CHECK(lease.port() == ports[0]);

  run_etcd(server);
  fleet::EtcdClient etcd(etcd_options(server.endpoint()));
  CHECK(wait_for_view(etcd, prefix, {located("host-a", ports[0])}, std::chrono::seconds(10)));
  agent.signal(SIGTERM);
  agent.wait();
}

TEST_CASE("after an etcd restart the view is resynchronised and exact") {
  TempDir etcd_dir;
  auto server = start_etcd(etcd_dir.path());
  EtcdStopper stopper(server);
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(server.endpoint()));
  TempDir host;
  auto ports = ReservedPorts::any(3);
  std::optional<PortLease> kept(hold(host, "api-server", ports[0]));
  std::optional<PortLease> released(hold(host, "api-server", ports[1]));
  auto agent = spawn_agent(server.endpoint(), prefix, "host-a", host.lock_dir(), host.path() / "agent.log", "2s");
  REQUIRE(wait_for_view(etcd, prefix, {located("host-a", ports[0]), located("host-a", ports[1])}));

  stop_etcd(server.pid);
  released.reset();  // changes while etcd is down
  auto added = hold(host, "mcp-universal", ports[2]);
  REQUIRE(wait_until([&] { return log_contains(host, "cannot reach etcd"); }));
  run_etcd(server);

  CHECK(wait_for_view(etcd, prefix, {located("host-a", ports[0]), located("host-a", ports[2])},
                      std::chrono::seconds(15)));
  auto view = fleet::read_fleet(etcd, prefix);
  REQUIRE(view.holders.size() == 2);
  auto added_holder = std::find_if(view.holders.begin(), view.holders.end(),
                                   [&](const fleet::FleetHolder& holder) { return holder.port == ports[2]; });
  REQUIRE(added_holder != view.holders.end());
  CHECK(added_holder->service == "mcp-universal");
  // Still exact a lease TTL later: the keys are on a live lease, not on one that lapsed.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  std::vector<std::string> expected{located("host-a", ports[0]), located("host-a", ports[2])};
  std::sort(expected.begin(), expected.end());
  CHECK(published(etcd, prefix) == expected);
  agent.signal(SIGTERM);
  agent.wait();
}

TEST_CASE("a lock directory removed under the agent is watched anew") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto agent = spawn_agent(endpoint, prefix, "host-a", host.lock_dir(), host.path() / "agent.log");
  REQUIRE(wait_until([&] { return log_contains(host, "publishing host"); }));
  std::filesystem::remove_all(host.lock_dir());
  REQUIRE(wait_until([&] { return log_contains(host, "watching it anew"); }));
  auto lease = hold(host, "api-server", ports[0]);
  CHECK(wait_for_view(etcd, prefix, {located("host-a", ports[0])}, std::chrono::seconds(2)));
}

namespace {

// etcdctl against `endpoint`, as `user` (NAME:PASSWORD) when given; true when it succeeded.
bool etcdctl(const std::string& endpoint, const std::string& arguments, const std::string& user = {}) {
  auto command = "ETCDCTL_API=3 etcdctl --endpoints=" + endpoint + (user.empty() ? "" : " --user=" + user) + " " +
                 arguments + " >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;  // a test's own command
}

}  // namespace

TEST_CASE("etcd users: an agent with the documented role publishes its host and nothing else") {
  TempDir etcd_dir;
  auto server = start_etcd(etcd_dir.path());
  EtcdStopper stopper(server);
  auto endpoint = server.endpoint();
  auto prefix = unique_prefix();
  // The role of docs/fleet.md: read everything under the prefix, write only the host's own keys.
  REQUIRE(etcdctl(endpoint, "user add root:root-secret"));
  REQUIRE(etcdctl(endpoint, "role add portpool-host-a"));
  REQUIRE(
      etcdctl(endpoint, "role grant-permission portpool-host-a --prefix=true readwrite " + prefix + "/hosts/host-a/"));
  REQUIRE(etcdctl(endpoint, "role grant-permission portpool-host-a --prefix=true read " + prefix + "/"));
  REQUIRE(etcdctl(endpoint, "user add agent-a:agent-secret"));
  REQUIRE(etcdctl(endpoint, "user grant-role agent-a portpool-host-a"));
  REQUIRE(etcdctl(endpoint, "auth enable"));

  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto lease = hold(host, "api-server", ports[0]);
  auto agent = spawn_agent(endpoint, prefix, "host-a", host.lock_dir(), host.path() / "agent.log", "10s",
                           {"--user", "agent-a", "--password", "agent-secret"});
  auto root_options = etcd_options(endpoint);
  root_options.user = "root";
  root_options.password = "root-secret";
  fleet::EtcdClient root(root_options);
  CHECK(wait_for_view(root, prefix, {located("host-a", ports[0])}));

  auto agent_options = etcd_options(endpoint);
  agent_options.user = "agent-a";
  agent_options.password = "agent-secret";
  fleet::EtcdClient as_agent(agent_options);
  CHECK(as_agent.range_prefix(prefix + "/").values.size() == 1);  // reads the whole fleet
  CHECK_THROWS_WITH(as_agent.put(fleet::port_key(prefix, "host-b", 9000), "{}"),
                    Catch::Contains("permission denied"));  // but cannot write another host's keys

  TempDir scratch;
  auto wrong = spawn_cli(
      {"status", "--fleet", "--etcd", endpoint, "--prefix", prefix, "--user", "agent-a", "--password", "wrong"},
      scratch.path() / "status.log");
  CHECK(wrong.exit_code() == 76);
  CHECK(text_of(scratch.path() / "status.log").find("agent-a") != std::string::npos);
  agent.signal(SIGTERM);
  CHECK(agent.exit_code() == 0);
  CHECK(wait_for_view(root, prefix, {}, std::chrono::seconds(2)));
}
