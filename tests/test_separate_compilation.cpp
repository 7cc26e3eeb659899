// The library compiled separately (PORTPOOL_SEPARATE_COMPILATION): this unit sees only the
// declarations of the core, and separate_compilation_unit.cpp, the program's one unit that includes
// <portpool/src.hpp>, compiles their bodies. Built without PORTPOOL_TEST_HOOKS and without the tests'
// precompiled header, as a user's program is; it checks that every form of the core links and
// behaves as header-only.
#ifndef PORTPOOL_SEPARATE_COMPILATION
#error "test_separate_compilation checks separate compilation: build it with PORTPOOL_SEPARATE_COMPILATION"
#endif
#ifdef PORTPOOL_TEST_HOOKS
#error "test_separate_compilation checks the shipped headers: build it without PORTPOOL_TEST_HOOKS"
#endif

#include <portpool/portpool.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "registry_changes.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <future>
#include <system_error>
#include <vector>

using portpool::test::options_in;
using portpool::test::ReservedPorts;
using portpool::test::TempDir;
using portpool::test::wait_for_changes;

TEST_CASE("a separately compiled manager acquires, explains an exhausted pool and releases") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  portpool::PortPoolManager manager("web", ports.ports(), options);
  {
    auto lease = manager.acquire();
    CHECK(lease.port() == ports[0]);
    CHECK(lease.held());
    CHECK(lease.lock_descriptor() >= 0);
    CHECK(portpool::Registry::holders(options).size() == 1);

    try {
      manager.acquire();
      FAIL("a pool of one held port was not exhausted");
    } catch (const portpool::PoolExhausted& exhausted) {
      REQUIRE(exhausted.refusals().size() == 1);
      CHECK(exhausted.refusals()[0].reason == portpool::RefusalReason::held);
      REQUIRE(exhausted.refusals()[0].holder.has_value());
      CHECK(exhausted.refusals()[0].holder->pid == ::getpid());
    }
    std::error_code error;
    CHECK_FALSE(manager.acquire(error));
    CHECK(error == portpool::errc::pool_exhausted);
    CHECK_FALSE(manager.try_acquire().has_value());
  }
  CHECK(portpool::Registry::holders(options).empty());
  std::error_code error;
  CHECK(manager.acquire(error).port() == ports[0]);
  CHECK_FALSE(error);
}

TEST_CASE("a separately compiled manager waits for a port, on any duration and clock") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  portpool::PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto lease = manager.acquire();
  CHECK_FALSE(manager.try_acquire_for(std::chrono::milliseconds(1)).has_value());
  CHECK_FALSE(manager.try_acquire_until(std::chrono::system_clock::now()).has_value());
  CHECK_THROWS_AS(manager.acquire_for(std::chrono::duration<double>(0.001)), portpool::PoolExhausted);

  auto waiter = std::async(std::launch::async, [&manager] { return manager.acquire_for(std::chrono::minutes(2)); });
  lease.release();
  CHECK(waiter.get().port() == ports[0]);
}

TEST_CASE("a separately compiled manager is built from a table, and an address parses") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  portpool::ServicePortTable table;
  table.add_shared_pool("web", {ports[0], ports[1]});
  auto options = options_in(directory);
  options.probe_address = portpool::IpAddress::from_string("127.0.0.1");
  portpool::PortPoolManager manager(table, "web", options);
  CHECK(manager.pool() == ports.ports());
  CHECK(manager.acquire().port() == ports[0]);
  CHECK(manager.options().probe_address.to_string() == "127.0.0.1");
}

TEST_CASE("a separately compiled instance manager and registry hand out and name instance numbers") {
  TempDir directory;
  auto options = options_in(directory);
  {
    auto first = portpool::InstanceManager::acquire(options, 2);
    auto second = portpool::InstanceManager::acquire(options, 2);
    CHECK(first.number() == 1);
    CHECK(second.number() == 2);
    CHECK(first.held());
    auto holders = portpool::Registry::instance_holders(options);
    REQUIRE(holders.size() == 2);
    CHECK(holders[0].instance_id == first.id());
    std::error_code error;
    CHECK_FALSE(portpool::InstanceManager::acquire(options, 2, error).held());
    CHECK(error == portpool::errc::pool_exhausted);
  }
  CHECK(portpool::Registry::instance_holders(options).empty());
}

TEST_CASE("a separately compiled registry watcher reports a hold and its release") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  portpool::RegistryWatcher watcher(options);
  auto lease = portpool::PortPoolManager("web", ports.ports(), options).acquire();
  auto acquired = wait_for_changes(watcher, 1);
  REQUIRE(acquired.size() == 1);
  CHECK(acquired[0].kind == portpool::RegistryChange::Kind::acquired);
  CHECK(acquired[0].holder.port == ports[0]);
  lease.release();
  auto released = wait_for_changes(watcher, 1);
  REQUIRE(released.size() == 1);
  CHECK(released[0].kind == portpool::RegistryChange::Kind::released);
}
