// `--wait DURATION` of `portpool lease` and `portpool run`: a port released while the command
// waits is taken, a wait that ends without one exits 75 with the usual message, what ends the
// command (a signal, a lease's input) ends the wait, and a bad duration is a usage error.

#include "cli.hpp"

#include <catch2/catch.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using portpool::test::ChildProcess;
using portpool::test::finish;
using portpool::test::ready_port;
using portpool::test::spawn_portpool;
using portpool::test::wait_until;

namespace {

using Fixture = portpool::test::RunFixture;

std::vector<std::string> lease_arguments(const Fixture& fixture, const std::vector<std::string>& options) {
  std::vector<std::string> arguments{"lease", "--config", fixture.config.string(), "--lock-dir",
                                     fixture.dir.lock_dir().string()};
  arguments.insert(arguments.end(), options.begin(), options.end());
  arguments.emplace_back("web");
  return arguments;
}

// The port a `lease` reports in its JSON line, or -1.
int leased_port(ChildProcess& lease) {
  auto line = lease.read_line();
  if (!line) {
    return -1;
  }
  return nlohmann::json::parse(*line).at("port").get<int>();
}

// Whether process `pid` has an inotify instance open: a waiting portpool sets up its watch
// before its first attempt, so a release from then on is one it waits for.
bool watching(pid_t pid) {
  auto directory = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    std::array<char, 64> target{};
    auto size = ::readlink(entry.path().c_str(), target.data(), target.size() - 1);
    if (size > 0 && std::string(target.data(), static_cast<std::size_t>(size)) == "anon_inode:inotify") {
      return true;
    }
  }
  return false;
}

// Three leases holding the fixture's whole pool.
std::vector<ChildProcess> hold_the_pool(const Fixture& fixture) {
  std::vector<ChildProcess> leases;
  leases.reserve(fixture.ports.ports().size());
  for (std::size_t index = 0; index < fixture.ports.ports().size(); ++index) {
    leases.push_back(spawn_portpool(lease_arguments(fixture, {})));
    REQUIRE(leased_port(leases.back()) == fixture.ports[index]);
  }
  return leases;
}

}  // namespace

TEST_CASE("lease --wait takes the port another lease releases while it waits") {
  Fixture fixture;
  auto leases = hold_the_pool(fixture);
  auto waiter = spawn_portpool(lease_arguments(fixture, {"--wait", "1m"}));
  REQUIRE(wait_until([&] { return watching(waiter.pid()); }));
  leases[1].close_stdin();
  CHECK(finish(leases[1]).exit_code == 0);
  CHECK(leased_port(waiter) == fixture.ports[1]);
  waiter.close_stdin();
  CHECK(finish(waiter).exit_code == 0);
}

TEST_CASE("three waiting leases and one released port: one takes it, the others wait on for the next") {
  Fixture fixture;
  auto leases = hold_the_pool(fixture);
  constexpr int waiting = 3;
  std::vector<ChildProcess> waiters;
  waiters.reserve(waiting);
  for (int index = 0; index < waiting; ++index) {
    waiters.push_back(spawn_portpool(lease_arguments(fixture, {"--wait", "1m"})));
  }
  for (auto& waiter : waiters) {
    REQUIRE(wait_until([&] { return watching(waiter.pid()); }));
  }
  std::vector<int> taken(waiters.size(), -1);
  auto served = [&] {
    for (std::size_t index = 0; index < waiters.size(); ++index) {
      if (taken[index] < 0) {
        if (auto line = waiters[index].read_line(std::chrono::milliseconds(10))) {
          taken[index] = nlohmann::json::parse(*line).at("port").get<int>();
        }
      }
    }
    return static_cast<std::size_t>(std::count_if(taken.begin(), taken.end(), [](int port) { return port >= 0; }));
  };

  leases[0].close_stdin();
  CHECK(finish(leases[0]).exit_code == 0);
  REQUIRE(wait_until([&] { return served() >= 1; }));
  CHECK(served() == 1);
  CHECK(portpool::test::holders(fixture.dir.lock_dir()).size() == 3);  // two leases and the one served

  leases[1].close_stdin();
  CHECK(finish(leases[1]).exit_code == 0);
  REQUIRE(wait_until([&] { return served() >= 2; }));
  CHECK(served() == 2);
  std::set<int> ports(taken.begin(), taken.end());
  CHECK(ports == std::set<int>{-1, fixture.ports[0], fixture.ports[1]});  // whichever waiter took which
  for (auto& waiter : waiters) {
    waiter.close_stdin();
    CHECK(finish(waiter).exit_code == 0);
  }
}

TEST_CASE("run --instance auto --wait waits on the pool of the lowest free instance number") {
  Fixture fixture;
  auto leases = hold_the_pool(fixture);
  auto waiter = fixture.spawn({"--instance", "auto", "--wait", "1m"}, {PORTPOOL_CLI_CHILD, "hold"});
  REQUIRE(wait_until([&] { return watching(waiter.pid()); }));
  leases[0].close_stdin();
  CHECK(ready_port(waiter) == fixture.ports[0]);
  waiter.close_stdin();
  CHECK(finish(waiter).exit_code == 0);
}

TEST_CASE("lease --wait that ends without a port exits 75 with the usual message, not before its time") {
  Fixture fixture;
  auto leases = hold_the_pool(fixture);
  auto start = std::chrono::steady_clock::now();
  auto waiter = spawn_portpool(lease_arguments(fixture, {"--wait", "1.5s"}));
  auto result = finish(waiter);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(1500));
  CHECK(result.exit_code == 75);
  CHECK_THAT(result.err, StartsWith("portpool: no free port for 'web'"));
  CHECK_THAT(result.err, Contains("pid " + std::to_string(leases[0].pid())));
  CHECK(result.out.empty());
}

TEST_CASE("a waiting lease whose input ends gives up: exit 0, nothing printed or held") {
  Fixture fixture;
  auto leases = hold_the_pool(fixture);
  auto waiter = spawn_portpool(lease_arguments(fixture, {"--wait", "1m"}));
  REQUIRE(wait_until([&] { return watching(waiter.pid()); }));
  waiter.close_stdin();
  auto result = finish(waiter);
  CHECK(result.exit_code == 0);
  CHECK(result.out.empty());
  leases[0].close_stdin();
  CHECK(finish(leases[0]).exit_code == 0);
  CHECK(portpool::test::holders(fixture.dir.lock_dir()).size() == 2);
}

TEST_CASE("run --wait starts CMD once a port is released, and SIGTERM ends a wait with nothing taken") {
  Fixture fixture;
  auto leases = hold_the_pool(fixture);
  auto waiter = fixture.spawn({"--wait", "1m"}, {PORTPOOL_CLI_CHILD, "hold"});
  REQUIRE(wait_until([&] { return watching(waiter.pid()); }));
  leases[2].close_stdin();
  CHECK(ready_port(waiter) == fixture.ports[2]);
  waiter.close_stdin();
  CHECK(finish(waiter).exit_code == 0);

  auto again = spawn_portpool(lease_arguments(fixture, {}));  // the pool is full again
  REQUIRE(leased_port(again) == fixture.ports[2]);
  auto stopped = fixture.spawn({"--wait", "1m"}, {PORTPOOL_CLI_CHILD, "hold"});
  REQUIRE(wait_until([&] { return watching(stopped.pid()); }));
  stopped.signal(SIGTERM);
  auto result = finish(stopped);
  CHECK(result.exit_code == 128 + SIGTERM);
  CHECK_THAT(result.err, Contains("while waiting for a port of 'web'"));
  CHECK(result.out.empty());
}

TEST_CASE("a malformed --wait duration is a usage error") {
  Fixture fixture;
  auto lease = spawn_portpool(lease_arguments(fixture, {"--wait", "soon"}));
  auto result = finish(lease);
  CHECK(result.exit_code == 64);
  CHECK_THAT(result.err, Contains("--wait soon is not a duration"));
  CHECK(fixture.run({"--wait", "-1s"}, {PORTPOOL_CLI_CHILD, "env"}).exit_code == 64);
}
