// Fleet-exclusive pools (FleetLockPolicy) against a real etcd: two simulated hosts (two host ids,
// two lock directories, so their local locks never meet) racing for one pool never hold the same
// port at once; an unreachable etcd fails acquisition clearly and leaves host pools alone.

#include "fixtures.hpp"
#include "fleet_test.hpp"

#include <portpool/error_code.hpp>
#include <portpool/exit_codes.hpp>
#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/fleet_lock_policy.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>

using namespace portpool;
using namespace portpool::test;
using FleetPoolManager = BasicPortPoolManager<fleet::FleetLockPolicy, NoProbe>;

namespace {

std::shared_ptr<fleet::FleetClaims> claims_for(const std::string& endpoint, const std::string& prefix,
                                               const std::string& host) {
  fleet::FleetClaimsOptions options;
  options.etcd = etcd_options(endpoint);
  options.host_id = host;
  options.prefix = prefix;
  return std::make_shared<fleet::FleetClaims>(options);
}

FleetPoolManager fleet_manager(const TempDir& host, const std::vector<std::uint16_t>& pool,
                               std::shared_ptr<fleet::FleetClaims> claims) {
  Options options;
  options.lock_dir = host.lock_dir();
  return {"scheduler", pool, options, fleet::FleetLockPolicy(options, std::move(claims))};
}

/// Two hosts with lock directories of their own, sharing one etcd prefix and a pool of one port.
struct TwoHosts {
  std::string endpoint = shared_etcd();
  std::string prefix = seeded_prefix(endpoint);
  TempDir host_a;
  TempDir host_b;
  ReservedPorts ports = ReservedPorts::any(1);
  FleetPoolManager manager_a = fleet_manager(host_a, {ports[0]}, claims_for(endpoint, prefix, "host-a"));
  FleetPoolManager manager_b = fleet_manager(host_b, {ports[0]}, claims_for(endpoint, prefix, "host-b"));
};

}  // namespace

TEST_CASE("a fleet-exclusive port held on one host is refused on another, and free again after release") {
  TwoHosts hosts;

  std::optional<PortLease> lease(hosts.manager_a.acquire());
  CHECK(lease->port() == hosts.ports[0]);
  CHECK_THROWS_WITH(hosts.manager_b.acquire(), Catch::Contains("claimed in the fleet by host host-a"));
  lease.reset();  // local lock first, then the claim
  auto taken = hosts.manager_b.acquire();
  CHECK(taken.port() == hosts.ports[0]);
}

TEST_CASE("each fleet hold carries a fencing token: the claim's revision, higher for every later claim") {
  TwoHosts hosts;
  std::optional<PortLease> first(hosts.manager_a.acquire());
  auto first_token = first->fencing_token();
  REQUIRE(first_token);
  CHECK(first_token->revision > 0);
  CHECK(first_token->cluster_id.size() == 16);
  CHECK(first_token->cluster_id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(first_token->cluster_id != "0000000000000000");
  first->release();
  CHECK(first->fencing_token() == first_token);  // still answered after release

  auto second = hosts.manager_b.acquire();
  REQUIRE(second.fencing_token());
  CHECK(second.fencing_token()->cluster_id == first_token->cluster_id);
  CHECK(second.fencing_token()->revision > first_token->revision);

  TempDir host_only;
  PortPoolManager local("web", ReservedPorts::any(1).ports(), options_in(host_only));
  CHECK_FALSE(local.acquire().fencing_token().has_value());
}

TEST_CASE("a port another host claims is refused as claimed_elsewhere, the host named in the detail") {
  TwoHosts hosts;
  auto lease = hosts.manager_a.acquire();

  try {
    hosts.manager_b.acquire();
    FAIL("acquire() must throw on a pool whose hosts.ports another host claims");
  } catch (const PoolExhausted& exhausted) {
    REQUIRE(exhausted.refusals().size() == 1);
    const auto& refusal = exhausted.refusals()[0];
    CHECK(refusal.port == hosts.ports[0]);
    CHECK(refusal.reason == RefusalReason::claimed_elsewhere);
    CHECK_FALSE(refusal.holder.has_value());
    CHECK_THAT(refusal.detail, Catch::Contains("claimed in the fleet by host host-a"));
  }
  std::error_code error;
  CHECK(hosts.manager_b.acquire(error).port() == 0);
  CHECK(error == errc::pool_exhausted);
}

TEST_CASE("a claim records its holder's transport") {
  auto endpoint = shared_etcd();
  auto prefix = seeded_prefix(endpoint);
  TempDir host;
  auto ports = ReservedPorts::any(1);
  Options options;
  options.lock_dir = host.lock_dir();
  options.transport = Transport::udp;
  FleetPoolManager manager("dns", {ports[0]}, options,
                           fleet::FleetLockPolicy(options, claims_for(endpoint, prefix, "host-a")));
  auto lease = manager.acquire();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  auto claims = etcd.range_prefix(fleet::claim_key(prefix, ports[0]));
  REQUIRE(claims.values.size() == 1);
  auto claim = nlohmann::json::parse(claims.values[0].value);
  CHECK(claim.at("host") == "host-a");
  CHECK(claim.at("service") == "dns");
  CHECK(claim.at("transport") == "udp");
}

TEST_CASE("etcd unreachable: the error_code form reports etcd_unavailable") {
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto closed = ReservedPorts::any(1);  // reserved, never listened on: connections are refused
  auto manager = fleet_manager(host, {ports[0]},
                               claims_for("http://127.0.0.1:" + std::to_string(closed[0]), unique_prefix(), "host-a"));
  std::error_code error;
  auto lease = manager.acquire(error);
  CHECK(error == errc::etcd_unavailable);
  CHECK(lease.port() == 0);
  CHECK(exit_code_for(error) == exit_code::etcd_unavailable);
}

TEST_CASE("two hosts racing for a fleet-exclusive pool never both hold one port") {
  auto endpoint = shared_etcd();
  auto prefix = seeded_prefix(endpoint);
  auto ports = ReservedPorts::any(2);
  std::mutex mutex;
  std::map<std::uint16_t, std::string> holders;
  std::atomic<int> overlaps{0};
  std::atomic<int> acquisitions{0};

  auto race = [&](const std::string& host) {
    TempDir directory;
    auto manager = fleet_manager(directory, ports.ports(), claims_for(endpoint, prefix, host));
    for (int round = 0; round < 150; ++round) {
      auto lease = manager.try_acquire();
      if (!lease) {
        continue;
      }
      ++acquisitions;
      {
        std::lock_guard guard(mutex);
        auto [where, inserted] = holders.emplace(lease->port(), host);
        if (!inserted) {
          ++overlaps;
        }
      }
      std::this_thread::yield();
      {
        std::lock_guard guard(mutex);
        holders.erase(lease->port());
      }
      lease->release();
    }
  };
  // Two threads of one manager per host, so hosts also race with themselves.
  std::vector<std::thread> racers;
  for (const char* host : {"host-a", "host-b", "host-a", "host-b"}) {
    racers.emplace_back(race, host);
  }
  for (auto& racer : racers) {
    racer.join();
  }
  CHECK(overlaps == 0);
  CHECK(acquisitions > 100);
}

TEST_CASE("etcd unreachable: a fleet pool fails with EtcdUnavailable, a host pool still works") {
  auto closed = ReservedPorts::any(1);
  auto dead = "http://127.0.0.1:" + std::to_string(closed[0]);
  TempDir host;
  auto ports = ReservedPorts::any(2);
  auto manager = fleet_manager(host, {ports[0]}, claims_for(dead, "/portpool/v1", "host-a"));
  CHECK_THROWS_AS(manager.acquire(), fleet::EtcdUnavailable);
  CHECK_THROWS_WITH(manager.acquire(), Catch::Contains(dead));
  Options options;
  options.lock_dir = host.lock_dir();
  auto lease = PortPoolManager("api-server", {ports[1]}, options).acquire();
  CHECK(lease.port() == ports[1]);
  CHECK(Registry::holders(options).size() == 1);  // the failed fleet acquisition left nothing behind
}

TEST_CASE("a table declares which services are fleet-wide, and only those get a fleet manager") {
  auto endpoint = shared_etcd();
  auto prefix = seeded_prefix(endpoint);
  auto ports = ReservedPorts::any(2);
  ServicePortTable table;
  table.add_shared_pool("scheduler", {ports[0]}).add_shared_pool("worker", {ports[1]});
  table.set_scope("scheduler", PoolScope::fleet);
  CHECK(table.scope("scheduler") == PoolScope::fleet);
  CHECK(table.scope("worker") == PoolScope::host);
  CHECK_THROWS_AS(table.set_scope("nobody", PoolScope::fleet), ConfigError);

  TempDir host_a;
  TempDir host_b;
  Options options_a;
  options_a.lock_dir = host_a.lock_dir();
  Options options_b;
  options_b.lock_dir = host_b.lock_dir();
  auto manager_a =
      fleet::make_fleet_pool_manager(table, "scheduler", options_a, claims_for(endpoint, prefix, "host-a"));
  auto manager_b =
      fleet::make_fleet_pool_manager(table, "scheduler", options_b, claims_for(endpoint, prefix, "host-b"));
  auto lease = manager_a.acquire();
  CHECK(lease.port() == ports[0]);
  CHECK_FALSE(manager_b.try_acquire());
  CHECK_THROWS_WITH(fleet::make_fleet_pool_manager(table, "worker", options_a, claims_for(endpoint, prefix, "host-a")),
                    Catch::Contains("not declared fleet-wide"));
}
