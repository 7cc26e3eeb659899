#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "holder.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <map>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

TEST_CASE("processes racing for a small pool: each port goes to at most one, the rest are refused") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  std::vector<ChildProcess> holders;
  holders.reserve(10);
  for (int index = 0; index < 10; ++index) {
    holders.push_back(spawn_port_holder(directory.lock_dir(), "race", ports.ports()));
  }
  std::map<int, int> winners;
  int refused = 0;
  for (auto& holder : holders) {
    auto port = acquired_by(holder);
    if (port < 0) {
      ++refused;
    } else {
      ++winners[port];
    }
  }
  CHECK(winners.size() == 3);
  for (const auto& [port, count] : winners) {
    CHECK(count == 1);
    CHECK(std::find(ports.ports().begin(), ports.ports().end(), port) != ports.ports().end());
  }
  CHECK(refused == 7);
}

TEST_CASE("reading the registry or making managers in the holding process never drops its lock") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  PortPoolManager manager("keeper", ports.ports(), options);
  auto lease = manager.acquire();

  for (int round = 0; round < 3; ++round) {
    CHECK(Registry::holders(directory.lock_dir()).size() == 1);
    CHECK(Registry::holder_of(ports[0], options).has_value());
    PortPoolManager another("keeper", ports.ports(), options);
    CHECK_FALSE(another.try_acquire().has_value());
  }

  auto outsider = spawn_port_holder(directory.lock_dir(), "keeper", ports.ports());
  CHECK(acquired_by(outsider) == -1);
}

TEST_CASE("a holder killed with SIGKILL frees its port at once, and the new record replaces the stale one") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto victim = spawn_port_holder(directory.lock_dir(), "crashy", ports.ports(), 2);
  REQUIRE(acquired_by(victim) == ports[0]);
  auto holders = Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == victim.pid());
  CHECK(holders[0].instance == 2);

  victim.signal(SIGKILL);
  victim.wait();
  CHECK(Registry::holders(directory.lock_dir()).empty());

  PortPoolManager manager("crashy", ports.ports(), options_in(directory));
  auto lease = manager.try_acquire();
  REQUIRE(lease.has_value());
  holders = Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == ::getpid());
  CHECK(holders[0].instance == 1);
}

TEST_CASE("a port released by another process can be taken, and exhaustion names the other holder") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto other = spawn_port_holder(directory.lock_dir(), "shared", ports.ports(), 3);
  REQUIRE(acquired_by(other) == ports[0]);

  PortPoolManager manager("shared", ports.ports(), options_in(directory));
  CHECK_THROWS_WITH(manager.acquire(),
                    Contains("held by pid " + std::to_string(other.pid()) + " (shared, instance 3)"));

  other.close_stdin();
  CHECK(other.read_line() == std::optional<std::string>("RELEASED"));
  CHECK(other.exit_code() == 0);
  CHECK(manager.acquire().port() == ports[0]);
}
