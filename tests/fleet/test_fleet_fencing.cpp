// Self-fencing fleet claims: a holder stops using its port before etcd can give it to another host.
// `portpool run` of a fleet-wide service ends CMD's tree when etcd stops confirming renewals (etcd
// paused past the TTL) or no longer knows the lease (etcd restarted without its data); a claimant
// killed with SIGKILL has its tree ended by the keeper before the claim can expire; a --kill-grace
// that does not fit in the stop margin is refused. Each test that stops etcd starts its own.

#include "fleet_test.hpp"

#include <portpool/fleet/fleet_lock_policy.hpp>
#include <portpool/port_pool_manager.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace portpool::test;
using Clock = std::chrono::steady_clock;

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PORTPOOL_TEST_UNDER_TSAN 1
#endif
#endif
#ifndef PORTPOOL_TEST_UNDER_TSAN
#define PORTPOOL_TEST_UNDER_TSAN 0
#endif
using namespace std::chrono_literals;

namespace {

// `run` exits 69 once a loss has ended CMD's tree. Under ThreadSanitizer, `portpool` itself is
// ended by a SIGPIPE the sanitizer's runtime raises again after the tree is gone (seen in CI, not
// explained yet; the tree is checked gone either way).
bool exited_after_loss(int exit_code) {
  return exit_code == 69 || (PORTPOOL_TEST_UNDER_TSAN && exit_code == 128 + SIGPIPE);
}

// CMD: prints its pid, then runs on through SIGTERM (which only ends its current `sleep`).
std::vector<std::string> term_ignoring_command() {
  return {"/bin/sh", "-c", "trap '' TERM; echo $$; while :; do sleep 0.1; done"};
}

// Continues a paused etcd when the test ends, passed or not (before EtcdStopper stops it).
class EtcdContinuer {
 public:
  explicit EtcdContinuer(pid_t etcd) : etcd_(etcd) {}
  EtcdContinuer(const EtcdContinuer&) = delete;
  EtcdContinuer& operator=(const EtcdContinuer&) = delete;
  EtcdContinuer(EtcdContinuer&&) = delete;
  EtcdContinuer& operator=(EtcdContinuer&&) = delete;
  ~EtcdContinuer() { ::kill(etcd_, SIGCONT); }

 private:
  pid_t etcd_;
};

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Host B takes the port again and again until it gets it; the moment it did. Before each try, notes
// when every process of `tree` was first seen gone.
std::optional<Clock::time_point> take_when_free(const std::vector<std::string>& arguments,
                                                const std::vector<pid_t>& tree,
                                                std::optional<Clock::time_point>& tree_gone,
                                                std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!tree_gone && std::all_of(tree.begin(), tree.end(), [](pid_t process) { return process_gone(process); })) {
      tree_gone = Clock::now();
    }
    auto taken = run_cli(arguments);
    if (taken.exit_code == 0) {
      return Clock::now();
    }
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("etcd paused past the TTL: the holder ends CMD's tree before another host can claim the port") {
  TempDir scratch;
  auto etcd_server = start_etcd(scratch.path() / "etcd");
  EtcdStopper stopper(etcd_server);
  std::vector<std::string> etcd{"--etcd", etcd_server.endpoint(), "--prefix", seeded_prefix(etcd_server.endpoint())};
  TempDir host_a;
  TempDir host_b;
  auto ports = ReservedPorts::any(1);
  auto table = write_scheduler_table(scratch, ports[0]);
  // A margin of 2.5 s: the tree is ended (grace included) 1.5 s before etcd could let the claim go,
  // room for a loaded machine (the sanitizer builds run this too).
  const auto ttl = 4s;
  const std::vector<std::string> fencing{"--fleet-ttl", "4s", "--fleet-stop-margin", "2500ms", "--kill-grace", "500ms"};
  auto log = scratch.path() / "a.log";
  auto holder =
      spawn_cli(scheduler_run_arguments(table, host_a, "host-a", etcd, fencing, term_ignoring_command()), log);
  auto line = holder.read_line();
  REQUIRE(line);
  pid_t command = std::stoi(*line);
  pid_t keeper = parent_of(command);

  EtcdContinuer continuer(etcd_server.pid);
  REQUIRE(::kill(etcd_server.pid, SIGSTOP) == 0);
  auto paused = Clock::now();
  CHECK(wait_until([&] { return process_gone(command) && process_gone(keeper); }, 20s));
  auto gone = Clock::now();
  REQUIRE(wait_until([&] { return holder.exited(); }, 20s));
  CHECK(exited_after_loss(holder.exit_code()));
  auto reported = text_of(log);
  CHECK_THAT(reported, Catch::Contains("is lost: its fleet claim: etcd confirmed no renewal") &&
                           Catch::Contains("stopping the command (SIGTERM)"));
  // etcd cannot expire the lease before the last renewal it confirmed (sent before the pause) plus the
  // TTL: how far before that the tree was gone is a figure, printed below (a loaded machine moves it);
  // the guarantee, the tree gone before host B gets the port, is checked below.

  // The fault itself: etcd stays paused until its lease could have expired, a second past the TTL.
  std::this_thread::sleep_for(ttl + 1s - (gone - paused));
  REQUIRE(::kill(etcd_server.pid, SIGCONT) == 0);
  std::optional<Clock::time_point> tree_gone;
  auto taken = take_when_free(scheduler_run_arguments(table, host_b, "host-b", etcd, fencing, {"/bin/true"}),
                              {command, keeper}, tree_gone, 20s);
  REQUIRE(taken);
  REQUIRE(tree_gone);
  CHECK(*tree_gone <= *taken);
  std::cout << fmt::format(
      "etcd paused: A's tree gone {:.2f} s after the pause (TTL {} s); B took the port {:.2f} s "
      "after the pause, {:.2f} s after etcd was continued\n",
      seconds_between(paused, gone), ttl.count(), seconds_between(paused, *taken),
      seconds_between(paused + ttl + 1s, *taken));
}

TEST_CASE("etcd restarted without its data: the holder hears that the lease is unknown and ends CMD's tree") {
  TempDir scratch;
  auto etcd_server = start_etcd(scratch.path() / "etcd");
  EtcdStopper stopper(etcd_server);
  std::vector<std::string> etcd{"--etcd", etcd_server.endpoint(), "--prefix", seeded_prefix(etcd_server.endpoint())};
  TempDir host_a;
  auto ports = ReservedPorts::any(1);
  auto table = write_scheduler_table(scratch, ports[0]);
  auto log = scratch.path() / "a.log";
  // The default TTL (10 s): renewals every 3 s, the deadline 9 s after the last; the loss comes from
  // etcd's answer.
  auto holder = spawn_cli(
      scheduler_run_arguments(table, host_a, "host-a", etcd, {"--kill-grace", "500ms"}, term_ignoring_command()), log);
  auto line = holder.read_line();
  REQUIRE(line);
  pid_t command = std::stoi(*line);

  auto restarted = Clock::now();
  stop_etcd(etcd_server.pid);
  std::filesystem::remove_all(etcd_server.directory / "data");
  run_etcd(etcd_server);
  auto answering = Clock::now();
  CHECK(wait_until([&] { return process_gone(command); }, 20s));
  REQUIRE(wait_until([&] { return holder.exited(); }, 20s));
  CHECK(exited_after_loss(holder.exit_code()));
  CHECK_THAT(text_of(log), Catch::Contains("is lost: its fleet claim: etcd no longer knows the lease"));
  std::cout << fmt::format(
      "etcd restarted empty: etcd answered again {:.2f} s after the restart began, A's tree was gone {:.2f} s after "
      "that (TTL 10 s: renewals every 3 s)\n",
      seconds_between(restarted, answering), seconds_between(answering, Clock::now()));
}

TEST_CASE("a claimant killed with SIGKILL: its TERM-ignoring tree ends before another host gets the port") {
  auto endpoint = shared_etcd();
  std::vector<std::string> etcd{"--etcd", endpoint, "--prefix", seeded_prefix(endpoint)};
  TempDir scratch;
  TempDir host_a;
  TempDir host_b;
  auto ports = ReservedPorts::any(1);
  auto table = write_scheduler_table(scratch, ports[0]);
  auto holder = spawn_cli(scheduler_run_arguments(table, host_a, "host-a", etcd,
                                                  {"--fleet-ttl", "5s", "--kill-grace", "1s"}, term_ignoring_command()),
                          scratch.path() / "a.log");
  auto line = holder.read_line();
  REQUIRE(line);
  pid_t command = std::stoi(*line);
  pid_t keeper = parent_of(command);
  REQUIRE(keeper > 1);

  holder.signal(SIGKILL);
  auto killed = Clock::now();
  std::optional<Clock::time_point> tree_gone;
  auto taken = take_when_free(scheduler_run_arguments(table, host_b, "host-b", etcd,
                                                      {"--fleet-ttl", "5s", "--kill-grace", "1s"}, {"/bin/true"}),
                              {command, keeper}, tree_gone, 30s);
  REQUIRE(taken);
  REQUIRE(tree_gone);
  CHECK(*tree_gone <= *taken);
  std::cout << fmt::format("claimant SIGKILLed: its tree gone {:.2f} s later, B took the port {:.2f} s later\n",
                           seconds_between(killed, *tree_gone), seconds_between(killed, *taken));
}

TEST_CASE("run killed while it ends CMD's tree after a loss: the keeper ends the tree by the same time") {
  TempDir scratch;
  auto etcd_server = start_etcd(scratch.path() / "etcd");
  EtcdStopper stopper(etcd_server);
  std::vector<std::string> etcd{"--etcd", etcd_server.endpoint(), "--prefix", seeded_prefix(etcd_server.endpoint())};
  TempDir host_a;
  auto ports = ReservedPorts::any(1);
  auto table = write_scheduler_table(scratch, ports[0]);
  const auto grace = 2s;
  auto log = scratch.path() / "a.log";
  auto holder = spawn_cli(scheduler_run_arguments(table, host_a, "host-a", etcd,
                                                  {"--fleet-ttl", "4s", "--kill-grace", "2s"}, term_ignoring_command()),
                          log);
  auto line = holder.read_line();
  REQUIRE(line);
  pid_t command = std::stoi(*line);
  pid_t keeper = parent_of(command);

  EtcdContinuer continuer(etcd_server.pid);
  REQUIRE(::kill(etcd_server.pid, SIGSTOP) == 0);
  REQUIRE(wait_until([&] { return text_of(log).find("is lost: its fleet claim") != std::string::npos; }, 20s));
  auto lost = Clock::now();
  // The fault itself: `portpool` dies half-way through the grace, before its SIGKILL.
  std::this_thread::sleep_for(grace / 2);
  holder.signal(SIGKILL);
  CHECK(wait_until([&] { return process_gone(command) && process_gone(keeper); }, 20s));
  auto gone = Clock::now();
  // The figure: within the grace of the loss, not a whole grace again from the death (1 s more).
  std::cout << fmt::format("run killed 1 s into the 2 s grace of a loss: the tree was gone {:.2f} s after the loss\n",
                           seconds_between(lost, gone));
}

TEST_CASE("a --kill-grace that does not fit in the fleet claims' stop margin is refused (64), naming both") {
  TempDir scratch;
  TempDir host;
  auto ports = ReservedPorts::any(1);
  auto table = write_scheduler_table(scratch, ports[0]);
  auto closed = ReservedPorts::any(1);
  std::vector<std::string> etcd{"--etcd", "http://127.0.0.1:" + std::to_string(closed[0])};

  auto too_long =
      run_cli(scheduler_run_arguments(table, host, "host-a", etcd, {"--kill-grace", "40s"}, {"/bin/echo", "ran"}));
  CHECK(too_long.exit_code == 64);
  CHECK_THAT(too_long.err, Catch::Contains("--kill-grace 40s does not fit in the fleet claims' stop margin") &&
                               Catch::Contains("at most 9s with --fleet-ttl 10s"));
  CHECK(too_long.out.empty());

  auto outside_margin = run_cli(scheduler_run_arguments(
      table, host, "host-a", etcd, {"--kill-grace", "5s", "--fleet-stop-margin", "3s"}, {"/bin/echo", "ran"}));
  CHECK(outside_margin.exit_code == 64);
  CHECK_THAT(outside_margin.err,
             Catch::Contains("--kill-grace 5s does not fit in the fleet claims' stop margin of 3s (--fleet-ttl 10s)"));
  CHECK(outside_margin.out.empty());

  auto margin_too_long = run_cli(scheduler_run_arguments(
      table, host, "host-a", etcd, {"--fleet-ttl", "5s", "--fleet-stop-margin", "4500ms"}, {"/bin/echo"}));
  CHECK(margin_too_long.exit_code == 64);
  CHECK_THAT(margin_too_long.err, Catch::Contains("--fleet-stop-margin 4.5s leaves less than 1s of --fleet-ttl 5s"));
}

TEST_CASE(
    "FleetClaims: etcd paused past the local deadline: on_claims_lost says so before the TTL and a session "
    "that holds no claim is not told") {
  TempDir scratch;
  auto etcd_server = start_etcd(scratch.path() / "etcd");
  EtcdStopper stopper(etcd_server);
  TempDir host;
  auto ports = ReservedPorts::any(1);

  std::mutex mutex;
  std::vector<portpool::fleet::ClaimsLost> losses;
  std::vector<std::string> messages;
  portpool::fleet::FleetClaimsOptions claims_options;
  claims_options.etcd = etcd_options(etcd_server.endpoint());
  claims_options.host_id = "host-a";
  claims_options.prefix = seeded_prefix(etcd_server.endpoint());
  claims_options.ttl = 3s;
  claims_options.stop_margin = 1s;
  claims_options.on_claims_lost = [&](const portpool::fleet::ClaimsLost& lost) {
    std::lock_guard guard(mutex);
    losses.push_back(lost);
  };
  claims_options.on_lost = [&](const std::string& message) {
    std::lock_guard guard(mutex);
    messages.push_back(message);
  };
  auto claims = std::make_shared<portpool::fleet::FleetClaims>(claims_options);
  portpool::Options options;
  options.lock_dir = host.lock_dir();
  portpool::BasicPortPoolManager<portpool::fleet::FleetLockPolicy, portpool::NoProbe> manager(
      "scheduler", {ports[0]}, options, portpool::fleet::FleetLockPolicy(options, claims));
  auto lease = manager.acquire();

  // A second host's session whose only claim was given back: its lease is renewed, no claim rides on it.
  TempDir idle_host;
  std::atomic<int> idle_told{0};
  auto idle_options = claims_options;
  idle_options.host_id = "host-b";
  idle_options.on_lost = nullptr;
  idle_options.on_claims_lost = [&](const portpool::fleet::ClaimsLost&) { ++idle_told; };
  auto idle_claims = std::make_shared<portpool::fleet::FleetClaims>(idle_options);
  portpool::Options idle_lock_options;
  idle_lock_options.lock_dir = idle_host.lock_dir();
  auto idle_ports = ReservedPorts::any(1);
  portpool::BasicPortPoolManager<portpool::fleet::FleetLockPolicy, portpool::NoProbe> idle_manager(
      "scheduler", {idle_ports[0]}, idle_lock_options,
      portpool::fleet::FleetLockPolicy(idle_lock_options, idle_claims));
  idle_manager.acquire();  // released at once

  EtcdContinuer continuer(etcd_server.pid);
  REQUIRE(::kill(etcd_server.pid, SIGSTOP) == 0);
  auto paused = Clock::now();
  CHECK(wait_until(
      [&] {
        std::lock_guard guard(mutex);
        return !losses.empty();
      },
      20s));
  auto told = Clock::now();
  // on_lost is called right after on_claims_lost, on the same thread: wait for it too.
  CHECK(wait_until(
      [&] {
        std::lock_guard guard(mutex);
        return !messages.empty();
      },
      20s));
  // The deadline: the send of the last confirmed renewal (before the pause) + TTL - margin, 2 s at
  // most; a figure, since a loaded machine moves it (the reason below says no etcd answer told it).
  std::cout << fmt::format("etcd paused: the claims were counted lost {:.2f} s after the pause\n",
                           seconds_between(paused, told));
  {
    std::lock_guard guard(mutex);
    REQUIRE(losses.size() == 1);
    CHECK(losses[0].reason == portpool::fleet::ClaimsLost::Reason::deadline_passed_without_renewal);
    CHECK(messages == std::vector<std::string>{losses[0].message});
  }
  // The idle session's deadline passed too (at most 2 s after the pause): it had nothing to lose.
  std::this_thread::sleep_for(paused + 2500ms - Clock::now());
  CHECK(idle_told == 0);
}

TEST_CASE("FleetClaims: a stop margin that leaves less than a second of the TTL is refused") {
  portpool::fleet::FleetClaimsOptions options;
  options.etcd.endpoints = {"http://127.0.0.1:1"};
  options.host_id = "host-a";
  options.ttl = 3s;
  options.stop_margin = 2500ms;
  CHECK_THROWS_AS(portpool::fleet::FleetClaims(options), portpool::ConfigError);
  options.stop_margin = -1ms;
  CHECK_THROWS_AS(portpool::fleet::FleetClaims(options), portpool::ConfigError);
  options.stop_margin.reset();
  CHECK(portpool::fleet::effective_stop_margin(options) == 1500ms);  // at most half the TTL
  options.ttl = 30s;
  CHECK(portpool::fleet::effective_stop_margin(options) == 10s);  // a third
}
