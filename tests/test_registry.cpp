#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "holder.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>

using namespace portpool;
using namespace portpool::test;

TEST_CASE("the registry lists live holders of every process, sorted by port, with their records") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto child = spawn_port_holder(directory.lock_dir(), "child-service", {ports[2]}, 5);
  REQUIRE(acquired_by(child) == ports[2]);

  auto options = options_in(directory);
  options.instance = 2;
  options.instance_id = "copy-two";
  auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);
  PortPoolManager manager("own-service", {ports[1], ports[0]}, options);
  auto lease = manager.acquire();

  auto holders = Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 2);
  CHECK(holders[0].port < holders[1].port);
  const auto& own = holders[0].port == ports[1] ? holders[0] : holders[1];
  const auto& other = holders[0].port == ports[2] ? holders[0] : holders[1];
  CHECK(own.service == "own-service");
  CHECK(own.pid == ::getpid());
  CHECK(own.instance == 2);
  CHECK(own.instance_id == "copy-two");
  CHECK(own.since >= before);
  CHECK(own.since <= std::chrono::system_clock::now() + std::chrono::seconds(1));
  CHECK(other.service == "child-service");
  CHECK(other.pid == child.pid());
  CHECK(other.instance == 5);

  auto found = Registry::holder_of(ports[2], options);
  REQUIRE(found.has_value());
  CHECK(found->pid == child.pid());
  CHECK_FALSE(Registry::holder_of(ports[0], options).has_value());
}

TEST_CASE("records whose lock is no longer held are ignored") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto child = spawn_port_holder(directory.lock_dir(), "gone", ports.ports());
  REQUIRE(acquired_by(child) == ports[0]);
  child.signal(SIGKILL);
  child.wait();
  CHECK(std::filesystem::file_size(directory.lock_file(ports[0])) > 0);
  CHECK(Registry::holders(directory.lock_dir()).empty());
  CHECK_FALSE(Registry::holder_of(ports[0], options_in(directory)).has_value());
}

TEST_CASE("a lock directory that does not exist has no holders and is not created by reading") {
  TempDir directory;
  CHECK(Registry::holders(directory.lock_dir()).empty());
  CHECK_FALSE(std::filesystem::exists(directory.lock_dir()));
}

TEST_CASE("hostile files in the lock directory are ignored") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto child = spawn_port_holder(directory.lock_dir(), "real", {ports[0]});
  REQUIRE(acquired_by(child) == ports[0]);
  auto lock_dir = directory.lock_dir();
  std::ofstream(lock_dir / "port-notanumber.lock") << "garbage";
  std::ofstream(lock_dir / "port-0.lock") << "portpool-record 2 0 0\n";
  std::ofstream(lock_dir / "port-070.lock") << "garbage";
  std::ofstream(directory.lock_file(ports[1])) << std::string(100000, 'x');
  std::filesystem::create_symlink(directory.lock_file(ports[0]), lock_dir / "port-1.lock");
  std::filesystem::create_directory(lock_dir / "port-2.lock");

  auto holders = Registry::holders(lock_dir);
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].service == "real");
}
