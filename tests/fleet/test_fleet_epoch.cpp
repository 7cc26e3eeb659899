// The fleet's epoch marker: after etcd lost its data, or on a new cluster, no claim counts until
// every holder from before can have stopped (the claims' TTL plus the stop margin); a seeded
// cluster (`portpool fleet-init`, fleet::initialize_fleet) has no wait. Tests that wait do not seed.

#include "fleet_test.hpp"

#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/fleet/fleet_lock_policy.hpp>
#include <portpool/port_pool_manager.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using FleetPoolManager = BasicPortPoolManager<fleet::FleetLockPolicy, NoProbe>;

namespace {

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double unix_seconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

fleet::FleetClaimsOptions claims_options(const std::string& endpoint, const std::string& prefix,
                                         const std::string& host) {
  fleet::FleetClaimsOptions options;
  options.etcd = etcd_options(endpoint);
  options.host_id = host;
  options.prefix = prefix;
  options.ttl = 3s;
  options.stop_margin = 1s;
  return options;
}

FleetPoolManager fleet_manager(const TempDir& host, std::uint16_t port, std::shared_ptr<fleet::FleetClaims> claims) {
  Options options;
  options.lock_dir = host.lock_dir();
  return {"scheduler", {port}, options, fleet::FleetLockPolicy(options, std::move(claims))};
}

std::vector<fleet::KeyValue> epoch_keys(const std::string& endpoint, const std::string& prefix) {
  fleet::EtcdClient etcd(etcd_options(endpoint));
  return etcd.range_prefix(fleet::epoch_key(prefix)).values;
}

}  // namespace

TEST_CASE(
    "etcd restarted without its data: a host claiming right after gets the port only after the old holder's "
    "TERM-ignoring tree has ended") {
  TempDir scratch;
  auto etcd_server = start_etcd(scratch.path() / "etcd");
  EtcdStopper stopper(etcd_server);
  std::vector<std::string> etcd{"--etcd", etcd_server.endpoint(), "--prefix", seeded_prefix(etcd_server.endpoint())};
  TempDir host_a;
  TempDir host_b;
  auto ports = ReservedPorts::any(1);
  auto table = write_scheduler_table(scratch, ports[0]);
  // TTL 10 s, margin 2.5 s: renewals every 2.5 s, so A hears of the loss up to 2.5 s after etcd
  // answers again, and its tree, which ignores SIGTERM, ends 2 s later, at the SIGKILL.
  const std::vector<std::string> fencing{"--fleet-ttl", "10s", "--fleet-stop-margin", "2500ms", "--kill-grace", "2s"};
  auto log_a = scratch.path() / "a.log";
  auto holder =
      spawn_cli(scheduler_run_arguments(table, host_a, "host-a", etcd, fencing,
                                        {"/bin/sh", "-c", "trap '' TERM; echo $$; while :; do sleep 0.1; done"}),
                log_a);
  auto line = holder.read_line();
  REQUIRE(line);
  pid_t command = std::stoi(*line);
  pid_t keeper = parent_of(command);
  REQUIRE(keeper > 1);

  stop_etcd(etcd_server.pid);
  std::filesystem::remove_all(etcd_server.directory / "data");
  run_etcd(etcd_server);
  auto answering = Clock::now();
  // Host B claims at once, and waits for the port: its command prints when it started (Unix time).
  auto with_wait = fencing;
  with_wait.insert(with_wait.end(), {"--wait", "60s"});
  auto claimant =
      spawn_cli(scheduler_run_arguments(table, host_b, "host-b", etcd, with_wait, {"/bin/sh", "-c", "date +%s.%N"}),
                scratch.path() / "b.log");
  std::optional<std::chrono::system_clock::time_point> tree_gone;
  std::optional<Clock::time_point> tree_gone_steady;
  std::atomic<bool> claimant_done{false};
  std::thread watcher([&] {
    while (!claimant_done && !tree_gone) {
      if (process_gone(command) && process_gone(keeper)) {
        tree_gone = std::chrono::system_clock::now();
        tree_gone_steady = Clock::now();
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  auto started_line = claimant.read_line();
  claimant_done = true;
  watcher.join();
  REQUIRE(started_line);
  auto b_started = std::stod(*started_line);
  auto b_seen = Clock::now();
  std::cout << fmt::format("etcd restarted empty: B's command started {:.2f} s after etcd answered again; ",
                           seconds_between(answering, b_seen));
  if (tree_gone) {
    std::cout << fmt::format("A's tree was gone {:.2f} s after etcd answered, {:.2f} s before B's command started",
                             seconds_between(answering, *tree_gone_steady), b_started - unix_seconds(*tree_gone));
  } else {
    std::cout << "A's tree still ran then";
  }
  std::cout << " (TTL 10 s + margin 2.5 s)\n";
  REQUIRE(tree_gone);
  CHECK(unix_seconds(*tree_gone) < b_started);
  REQUIRE(wait_until([&] { return claimant.exited(); }, 20s));
  CHECK(claimant.exit_code() == 0);
  CHECK_THAT(text_of(log_a), Catch::Contains("is lost: its fleet claim: etcd no longer knows the lease"));
  REQUIRE(wait_until([&] { return holder.exited(); }, 20s));
}

TEST_CASE("a new cluster that nobody seeded: the first claim counts only after the TTL plus the stop margin") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto manager =
      fleet_manager(host, ports[0], std::make_shared<fleet::FleetClaims>(claims_options(endpoint, prefix, "host-a")));
  auto asked = Clock::now();
  try {
    manager.acquire();
    FAIL("a claim counted at once on a cluster without an epoch marker");
  } catch (const PoolExhausted& exhausted) {
    REQUIRE(exhausted.refusals().size() == 1);
    CHECK(exhausted.refusals()[0].reason == RefusalReason::claimed_elsewhere);
    CHECK_THAT(exhausted.what(), Catch::Contains("no fleet claim counts yet: the epoch marker " + prefix + "/epoch") &&
                                     Catch::Contains("up to 4 s") && Catch::Contains("portpool fleet-init"));
  }
  auto keys = epoch_keys(endpoint, prefix);
  REQUIRE(keys.size() == 2);  // the marker and the settling key
  CHECK(keys[0].key == prefix + "/epoch");
  CHECK(keys[0].lease == 0);
  auto marker = nlohmann::json::parse(keys[0].value);
  CHECK(marker["host"] == "host-a");
  CHECK(marker["seeded"] == false);
  CHECK(keys[1].key == prefix + "/epoch-settling");
  CHECK(keys[1].lease != 0);

  auto lease = manager.acquire_for(30s);
  auto waited = Clock::now() - asked;
  CHECK(lease.port() == ports[0]);
  // A guarantee: never before the TTL; about TTL + margin (4 s here), plus etcd's expiry check.
  CHECK(waited >= 3s);
  std::cout << fmt::format(
      "unseeded cluster: the first claim counted {:.2f} s after it was asked (TTL 3 s + margin 1 s)\n",
      seconds_between(asked, asked + waited));
  CHECK(epoch_keys(endpoint, prefix).size() == 1);  // the marker stays
}

TEST_CASE("a seeded cluster: the first claim counts at once, and seeding twice keeps the first marker") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  {
    fleet::EtcdClient etcd(etcd_options(endpoint));
    CHECK(fleet::initialize_fleet(etcd, prefix, "bootstrap-1"));
    CHECK_FALSE(fleet::initialize_fleet(etcd, prefix, "bootstrap-2"));
    CHECK_THROWS_AS(fleet::initialize_fleet(etcd, "no-slash", "bootstrap-1"), ConfigError);
  }
  auto keys = epoch_keys(endpoint, prefix);
  REQUIRE(keys.size() == 1);
  auto marker = nlohmann::json::parse(keys[0].value);
  CHECK(marker["host"] == "bootstrap-1");
  CHECK(marker["seeded"] == true);
  CHECK(marker["created"].get<std::string>().size() == 24);

  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto manager =
      fleet_manager(host, ports[0], std::make_shared<fleet::FleetClaims>(claims_options(endpoint, prefix, "host-a")));
  auto asked = Clock::now();
  auto lease = manager.acquire();  // one attempt: no wait
  CHECK(lease.port() == ports[0]);
  std::cout << fmt::format("seeded cluster: the first claim counted {:.3f} s after it was asked\n",
                           seconds_between(asked, Clock::now()));
}

TEST_CASE("two claimants find no marker at once: one marker is created, and both wait") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  TempDir host_a;
  TempDir host_b;
  auto ports = ReservedPorts::any(2);
  auto manager_a =
      fleet_manager(host_a, ports[0], std::make_shared<fleet::FleetClaims>(claims_options(endpoint, prefix, "host-a")));
  auto manager_b =
      fleet_manager(host_b, ports[1], std::make_shared<fleet::FleetClaims>(claims_options(endpoint, prefix, "host-b")));
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  auto asked = Clock::now();
  std::optional<Clock::time_point> counted_a;
  std::optional<Clock::time_point> counted_b;
  auto claimant = [&](FleetPoolManager& manager, std::optional<Clock::time_point>& counted) {
    ++ready;
    while (!go) {
      std::this_thread::yield();
    }
    try {
      auto lease = manager.acquire_for(30s);
      counted = Clock::now();
    } catch (const std::exception& error) {
      std::cerr << "a claimant failed: " << error.what() << '\n';
    }
  };
  std::thread a([&] { claimant(manager_a, counted_a); });
  std::thread b([&] { claimant(manager_b, counted_b); });
  while (ready < 2) {
    std::this_thread::yield();
  }
  asked = Clock::now();
  go = true;
  a.join();
  b.join();
  REQUIRE(counted_a);
  REQUIRE(counted_b);
  CHECK(*counted_a - asked >= 3s);
  CHECK(*counted_b - asked >= 3s);
  auto keys = epoch_keys(endpoint, prefix);
  REQUIRE(keys.size() == 1);
  CHECK(keys[0].key == prefix + "/epoch");
  CHECK(keys[0].create_revision == keys[0].mod_revision);  // created once, never written again
  std::cout << fmt::format(
      "two claimants on an unseeded cluster: their claims counted {:.2f} s and {:.2f} s after "
      "they were asked (TTL 3 s + margin 1 s)\n",
      seconds_between(asked, *counted_a), seconds_between(asked, *counted_b));
}

TEST_CASE(
    "portpool fleet-init seeds a cluster: run's first claim then counts at once, and a second seeding changes "
    "nothing") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  auto seeded = run_cli({"fleet-init", "--etcd", endpoint, "--prefix", prefix, "--host-id", "bootstrap-1"});
  CHECK(seeded.exit_code == 0);
  CHECK(seeded.out ==
        "created the fleet's epoch marker " + prefix + "/epoch: claims under " + prefix + " count at once\n");
  auto again = run_cli({"fleet-init", "--etcd", endpoint, "--prefix", prefix, "--host-id", "bootstrap-2"});
  CHECK(again.exit_code == 0);
  CHECK(again.out == "the fleet's epoch marker " + prefix + "/epoch exists already: nothing to do\n");
  auto keys = epoch_keys(endpoint, prefix);
  REQUIRE(keys.size() == 1);
  CHECK(nlohmann::json::parse(keys[0].value)["host"] == "bootstrap-1");

  TempDir scratch;
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto table = (scratch.path() / "table.toml").string();
  std::ofstream(table) << fmt::format("[services.scheduler]\nports = [{}]\nscope = \"fleet\"\n", ports[0]);
  auto ran = run_cli(scheduler_run_arguments(table, host, "host-a", {"--etcd", endpoint, "--prefix", prefix}, {},
                                             {"/bin/sh", "-c", "echo $PORT"}));
  CHECK(ran.exit_code == 0);
  CHECK(ran.out == std::to_string(ports[0]) + "\n");
}

TEST_CASE("portpool run on an unseeded cluster: 75 saying why and how to seed, and with --wait it gets the port") {
  auto endpoint = shared_etcd();
  auto prefix = unique_prefix();
  TempDir scratch;
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto table = (scratch.path() / "table.toml").string();
  std::ofstream(table) << fmt::format("[services.scheduler]\nports = [{}]\nscope = \"fleet\"\n", ports[0]);
  std::vector<std::string> etcd{"--etcd", endpoint, "--prefix", prefix};
  const std::vector<std::string> fencing{"--fleet-ttl", "3s", "--fleet-stop-margin", "1s", "--kill-grace", "500ms"};
  auto refused = run_cli(scheduler_run_arguments(table, host, "host-a", etcd, fencing, {"/bin/echo", "ran"}));
  CHECK(refused.exit_code == 75);
  CHECK(refused.out.empty());
  CHECK_THAT(refused.err, Catch::Contains("no fleet claim counts yet: the epoch marker " + prefix + "/epoch") &&
                              Catch::Contains("portpool fleet-init"));
  auto waiting = fencing;
  waiting.insert(waiting.end(), {"--wait", "30s"});
  auto asked = Clock::now();
  auto ran = run_cli(scheduler_run_arguments(table, host, "host-a", etcd, waiting, {"/bin/echo", "ran"}));
  CHECK(ran.exit_code == 0);
  CHECK(ran.out == "ran\n");
  std::cout << fmt::format("run --wait on a cluster settling: CMD ran {:.2f} s after the second run began\n",
                           seconds_between(asked, Clock::now()));
}

TEST_CASE("portpool fleet-init: etcd unreachable exits 69 naming the endpoint, and no --etcd is a usage error") {
  auto closed = ReservedPorts::any(1);
  auto endpoint = "http://127.0.0.1:" + std::to_string(closed[0]);
  auto unreachable = run_cli({"fleet-init", "--etcd", endpoint});
  CHECK(unreachable.exit_code == 69);
  CHECK_THAT(unreachable.err, Catch::Contains(endpoint));
  auto no_etcd = run_cli({"fleet-init"});
  CHECK(no_etcd.exit_code == 64);
  CHECK_THAT(no_etcd.err, Catch::Contains("--etcd"));
}

TEST_CASE("a session whose lease etcd forgot in a data loss reads the marker again: its next claim waits") {
  TempDir scratch;
  auto etcd_server = start_etcd(scratch.path() / "etcd");
  EtcdStopper stopper(etcd_server);
  auto endpoint = etcd_server.endpoint();
  auto prefix = seeded_prefix(endpoint);
  std::atomic<int> lost{0};
  auto options = claims_options(endpoint, prefix, "host-a");
  options.on_claims_lost = [&](const fleet::ClaimsLost& loss) {
    if (loss.reason == fleet::ClaimsLost::Reason::lease_expired_in_etcd) {
      ++lost;
    }
  };
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto manager = fleet_manager(host, ports[0], std::make_shared<fleet::FleetClaims>(options));
  auto lease = manager.acquire();  // seeded: at once

  stop_etcd(etcd_server.pid);
  std::filesystem::remove_all(etcd_server.directory / "data");
  run_etcd(etcd_server);
  REQUIRE(wait_until([&] { return lost > 0; }, 20s));
  lease.release();
  auto asked = Clock::now();
  try {
    manager.acquire();
    FAIL("a claim counted at once on a cluster that lost its data");
  } catch (const PoolExhausted& exhausted) {
    CHECK_THAT(exhausted.what(), Catch::Contains("no fleet claim counts yet"));
  }
  auto again = manager.acquire_for(30s);
  CHECK(again.port() == ports[0]);
  CHECK(Clock::now() - asked >= 3s);
  std::cout << fmt::format("after a data loss the same session's claim counted {:.2f} s after it was asked\n",
                           seconds_between(asked, Clock::now()));
}
