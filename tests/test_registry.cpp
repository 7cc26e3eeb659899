#include <portpool/impl/record.hpp>
#include <portpool/instance_manager.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>
#include <portpool/unique_fd.hpp>

#include "fixtures.hpp"
#include "holder.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

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

TEST_CASE("a helper's holders name the application it holds ports and instances for, the lock staying its own") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  options.application_pid = ::getppid();
  auto instance = InstanceManager::acquire(options, 4);
  PortPoolManager manager("helped", {ports[0]}, options);
  auto lease = manager.acquire();

  auto holders = Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == ::getpid());
  CHECK(holders[0].application_pid == ::getppid());
  CHECK(application_pid_of(holders[0]) == ::getppid());
  auto instances = Registry::instance_holders(options_in(directory));
  REQUIRE(instances.size() == 1);
  CHECK(instances[0].application_pid == ::getppid());

  PortPoolManager second("helped", {ports[0]}, options_in(directory));
  try {
    second.acquire();
    FAIL("a held port was handed out");
  } catch (const PoolExhausted& exhausted) {
    REQUIRE(exhausted.refusals().size() == 1);
    CHECK(exhausted.refusals()[0].holder->application_pid == ::getppid());  // the words: tests/cli/test_cli_lease.cpp
  }

  options.application_pid = -1;
  CHECK_THROWS_AS(PortPoolManager("helped", {ports[0]}, options), ConfigError);
  CHECK_THROWS_AS(InstanceManager::acquire(options, 4), ConfigError);
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

namespace {

// A lock file `name` in `lock_dir` carrying `holder`'s record, locked (as long as the returned
// descriptor is open) when `locked`: what a program that forges records can leave behind.
portpool::UniqueFd forged_lock_file(const std::filesystem::path& lock_dir, const std::string& name,
                                    const Holder& holder, bool locked) {
  std::filesystem::create_directories(lock_dir);
  portpool::UniqueFd file(::open((lock_dir / name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  REQUIRE(file);
  auto record = detail::format_record(holder);
  REQUIRE(::write(file.get(), record.data(), record.size()) == static_cast<ssize_t>(record.size()));
  if (locked) {
    struct flock whole {};
    whole.l_type = F_WRLCK;
    whole.l_whence = SEEK_SET;
    REQUIRE(::fcntl(file.get(), F_OFD_SETLK, &whole) == 0);
  }
  return file;
}

Holder instance_record(unsigned number) {
  return {0, {}, ::getpid(), number, "forged", std::chrono::system_clock::now()};
}

}  // namespace

TEST_CASE("the registry lists live holders of instance numbers, sorted by instance, apart from port holders") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto child = spawn_instance_holder(directory.lock_dir(), 5);
  REQUIRE(acquired_by(child) == 1);
  auto options = options_in(directory);
  options.instance_id = "copy-three";
  auto third = InstanceManager::acquire_number(options, 3);
  auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);
  options.instance_id.clear();
  auto second = InstanceManager::acquire(options, 5);
  REQUIRE(second.number() == 2);
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto lease = manager.acquire();

  auto instances = Registry::instance_holders(options);
  REQUIRE(instances.size() == 3);
  CHECK(instances[0].instance == 1);
  CHECK(instances[0].pid == child.pid());
  CHECK(instances[1].instance == 2);
  CHECK(instances[1].pid == ::getpid());
  CHECK(instances[1].instance_id == second.id());
  CHECK(instances[1].since >= before);
  CHECK(instances[2].instance == 3);
  CHECK(instances[2].instance_id == "copy-three");
  for (const auto& instance : instances) {
    CHECK(instance.port == 0);
    CHECK(instance.service.empty());
  }
  auto holders = Registry::holders(options);
  REQUIRE(holders.size() == 1);  // instance locks are not port holders
  CHECK(holders[0].port == ports[0]);

  second.release();
  child.signal(SIGKILL);
  child.wait();
  instances = Registry::instance_holders(options);
  REQUIRE(instances.size() == 1);  // the files of 1 and 2 are still there, their locks not
  CHECK(instances[0].instance == 3);
  third.release();
  CHECK(Registry::instance_holders(options).empty());
  CHECK(std::filesystem::exists(directory.lock_dir() / "instance-3.lock"));
}

TEST_CASE("instance lock files that are not locked, forged or misnamed are not instance holders") {
  TempDir directory;
  auto lock_dir = directory.lock_dir();
  auto options = options_in(directory);
  CHECK(Registry::instance_holders(options).empty());  // no directory: nothing, and nothing created
  CHECK_FALSE(std::filesystem::exists(lock_dir));

  auto stale = forged_lock_file(lock_dir, "instance-4.lock", instance_record(4), false);
  auto wrong_number = forged_lock_file(lock_dir, "instance-5.lock", instance_record(6), true);
  auto leading_zero = forged_lock_file(lock_dir, "instance-07.lock", instance_record(7), true);
  auto zero = forged_lock_file(lock_dir, "instance-0.lock", instance_record(0), true);
  auto real = forged_lock_file(lock_dir, "instance-8.lock", instance_record(8), true);
  std::ofstream(lock_dir / "instance-9.lock") << "garbage";
  std::filesystem::create_directory(lock_dir / "instance-10.lock");

  auto instances = Registry::instance_holders(options);
  REQUIRE(instances.size() == 1);
  CHECK(instances[0].instance == 8);
  real.reset();
  CHECK(Registry::instance_holders(options).empty());
}
