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
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

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

// How long after `change()` the watch sees a change of `key` (a put, or a delete when `deleted`);
// nullopt when it is not seen within `limit` (the watch is cancelled then, so a change that never
// comes fails the test instead of hanging it).
template <class Change>
std::optional<std::chrono::milliseconds> time_until_seen(fleet::EtcdClient& etcd, const std::string& key, bool deleted,
                                                         Change change,
                                                         std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto watch = etcd.watch_prefix(key, 0);
  std::mutex mutex;
  std::condition_variable ended;
  bool seen_or_over = false;
  std::thread watchdog([&] {
    std::unique_lock lock(mutex);
    if (!ended.wait_for(lock, limit, [&] { return seen_or_over; })) {
      watch->cancel();
    }
  });
  auto stop_watchdog = [&] {
    {
      std::lock_guard lock(mutex);
      seen_or_over = true;
    }
    ended.notify_all();
    watchdog.join();
  };
  auto start = Clock::now();
  std::optional<std::chrono::milliseconds> seen;
  try {
    change();
    fleet::WatchBatch batch;
    while (!seen && watch->next(batch)) {
      for (const auto& event : batch.events) {
        if (event.value.key == key && (event.type == fleet::WatchEvent::Type::deleted) == deleted) {
          seen = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
          break;
        }
      }
    }
  } catch (...) {
    stop_watchdog();
    throw;
  }
  stop_watchdog();
  watch->cancel();
  return seen;
}

/// The lease (etcd's id) that the agent logging to `dir`/agent.log said last that it publishes on,
/// or 0 before it said any.
std::int64_t current_lease_in_log(const TempDir& dir) {
  static const std::regex lease_id(R"(lease ([0-9a-f]+)[ ,)])");
  auto log = text_of(dir.path() / "agent.log");
  std::int64_t lease = 0;
  for (auto match = std::sregex_iterator(log.begin(), log.end(), lease_id); match != std::sregex_iterator(); ++match) {
    lease = std::stoll((*match)[1].str(), nullptr, 16);
  }
  return lease;
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
  // A TTL far beyond any wait of this test: host-a's keys vanishing shows the lease revoked, not expired.
  auto agent_a = spawn_agent(endpoint, prefix, "host-a", host_a.lock_dir(), host_a.path() / "agent.log", "120s");
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
  CHECK(wait_for_view(etcd, prefix, {located("host-b", ports[2])}));
}

TEST_CASE("an acquisition and a release reach etcd, five times in a row") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto agent = spawn_agent(endpoint, prefix, "host-a", host.lock_dir(), host.path() / "agent.log");
  REQUIRE(wait_until([&] { return log_contains(host, "publishing host"); }));
  auto key = fleet::port_key(prefix, "host-a", ports[0]);

  // Five rounds, each seen by a watch. How fast is reported, not checked: the target (100 ms) is
  // measured by bench/fleet_bench (docs/fleet.md); a functional test on a shared machine is no
  // measurement.
  std::vector<std::chrono::milliseconds> appeared;
  std::vector<std::chrono::milliseconds> vanished;
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    std::optional<PortLease> lease;
    auto put = time_until_seen(etcd, key, false, [&] { lease.emplace(hold(host, "api-server", ports[0])); });
    REQUIRE(put);
    auto holders = published(etcd, prefix);
    CHECK(holders == std::vector<std::string>{located("host-a", ports[0])});
    auto deleted = time_until_seen(etcd, key, true, [&] { lease->release(); });
    REQUIRE(deleted);
    appeared.push_back(*put);
    vanished.push_back(*deleted);
  }
  std::sort(appeared.begin(), appeared.end());
  std::sort(vanished.begin(), vanished.end());
  WARN("an acquisition was in etcd after "
       << appeared.front().count() << " to " << appeared.back().count() << " ms (median " << appeared[2].count()
       << "), a release after " << vanished.front().count() << " to " << vanished.back().count() << " ms (median "
       << vanished[2].count() << "); not checked");
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
  CHECK(wait_for_view(etcd, prefix, {}));  // the agent lives on: its lease would never expire
}

TEST_CASE("a SIGKILLed agent's keys vanish when its lease expires") {
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
  // A killed agent deletes nothing: whatever removes its keys is etcd, when the lease (2 s, renewed
  // every third of it) expires. How long that took is reported, not checked (docs/fleet.md: at most
  // TTL + etcd's expiry check); the bound only ends a wait that would never end.
  auto gone_after = time_until_seen(
      etcd, key, true,
      [&] {
        agent.signal(SIGKILL);
        agent.wait();
      },
      std::chrono::seconds(2 + 20));
  REQUIRE(gone_after);
  WARN("the keys vanished " << gone_after->count() << " ms after the agent was killed (TTL 2000 ms; not checked)");
  CHECK(wait_for_view(etcd, prefix, {}));
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
  CHECK(wait_for_view(etcd, prefix, {}));
  agent.signal(SIGCONT);
  CHECK(wait_for_view(etcd, prefix, {located("host-a", ports[0])}));
  CHECK(wait_until([&] { return log_contains(host, "the lease expired"); }));
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
  CHECK(wait_for_view(etcd, prefix, {located("host-a", ports[0])}));
  agent.signal(SIGTERM);
  agent.wait();
}

TEST_CASE("the agent says when the etcd member it talks to dies and it moves to the next one") {
  TempDir etcd_dir;
  auto first = start_etcd(etcd_dir.path());
  EtcdStopper stopper(first);
  auto second = shared_etcd();
  auto prefix = unique_prefix();
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto lease = hold(host, "api-server", ports[0]);
  auto agent =
      spawn_agent(first.endpoint() + "," + second, prefix, "host-a", host.lock_dir(), host.path() / "agent.log", "2s");
  fleet::EtcdClient first_view(etcd_options(first.endpoint()));
  REQUIRE(wait_for_view(first_view, prefix, {located("host-a", ports[0])}));
  CHECK_FALSE(log_contains(host, "stopped answering"));

  stop_etcd(first.pid);
  CHECK(wait_until([&] {
    return log_contains(host, "etcd at " + first.endpoint() + " stopped answering (") &&
           log_contains(host, "now talking to etcd at " + second);
  }));
  // The second endpoint is another cluster here: the agent's lease is unknown there, so it
  // publishes the host again on a new lease.
  fleet::EtcdClient second_view(etcd_options(second));
  CHECK(wait_for_view(second_view, prefix, {located("host-a", ports[0])}));
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
  // The keys are on the lease the agent renews, the one its log names last (kept across the
  // restart, or taken anew), not on one left to lapse: then they stay, with no need to watch them
  // for a TTL.
  auto host_keys = fleet::host_ports_prefix(prefix, "host-a");
  CHECK(wait_until([&] {
    auto lease = current_lease_in_log(host);
    auto keys = etcd.range_prefix(host_keys).values;
    return lease != 0 && keys.size() == 2 &&
           std::all_of(keys.begin(), keys.end(), [&](const fleet::KeyValue& kv) { return kv.lease == lease; });
  }));
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
  CHECK(wait_for_view(etcd, prefix, {located("host-a", ports[0])}));
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
  // A TTL far beyond any wait of this test: the keys vanishing at the end shows the lease revoked.
  auto agent = spawn_agent(endpoint, prefix, "host-a", host.lock_dir(), host.path() / "agent.log", "120s",
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
  CHECK(wait_for_view(root, prefix, {}));
}
