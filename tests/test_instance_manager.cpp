#include <portpool/instance_manager.hpp>

#include "fixtures.hpp"
#include "holder.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <system_error>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

TEST_CASE("instance numbers are handed out lowest first and come back when released") {
  TempDir directory;
  auto options = options_in(directory);
  auto first = InstanceManager::acquire(options, 3);
  auto second = InstanceManager::acquire(options, 3);
  CHECK(first.number() == 1);
  CHECK(second.number() == 2);
  CHECK_FALSE(first.id().empty());
  first.release();
  first.release();
  CHECK_FALSE(first.held());
  CHECK(InstanceManager::acquire(options, 3).number() == 1);
}

TEST_CASE("the configured instance id is used") {
  TempDir directory;
  auto options = options_in(directory);
  options.instance_id = "desktop-app";
  CHECK(InstanceManager::acquire(options, 2).id() == "desktop-app");
  options.instance_id = "bad id";
  CHECK_THROWS_AS(InstanceManager::acquire(options, 2), ConfigError);
}

TEST_CASE("instance numbers are exclusive across processes and freed when the holder dies") {
  TempDir directory;
  auto options = options_in(directory);
  auto other = spawn_instance_holder(directory.lock_dir(), 2);
  REQUIRE(acquired_by(other) == 1);
  auto mine = InstanceManager::acquire(options, 2);
  CHECK(mine.number() == 2);
  CHECK_THROWS_WITH(InstanceManager::acquire(options, 2),
                    Contains("all instance numbers 1 to 2 are taken") &&
                        Contains("1: held by pid " + std::to_string(other.pid())) &&
                        Contains("2: held by this process"));
  CHECK_THROWS_WITH(InstanceManager::acquire_number(options, 1),
                    Contains("instance 1 is taken") && Contains(std::to_string(other.pid())));

  other.signal(SIGKILL);
  other.wait();
  CHECK(InstanceManager::acquire_number(options, 1).number() == 1);
}

TEST_CASE("instance 0 and a maximum of 0 are refused") {
  TempDir directory;
  auto options = options_in(directory);
  CHECK_THROWS_AS(InstanceManager::acquire_number(options, 0), ConfigError);
  CHECK_THROWS_AS(InstanceManager::acquire(options, 0), ConfigError);
}

TEST_CASE("a moved-from instance lease answers its accessors safely") {
  TempDir directory;
  auto lease = InstanceManager::acquire(options_in(directory), 3);
  auto moved = std::move(lease);
  CHECK(moved.held());
  CHECK_FALSE(lease.held());  // NOLINT(bugprone-use-after-move): what this test is about
  CHECK(lease.number() == 1);
  CHECK(lease.id().empty());
  lease.release();
  CHECK(moved.held());
}

TEST_CASE("InstanceManager::acquire(options, max, std::error_code&) reports each failure by its code") {
  TempDir directory;
  auto options = options_in(directory);
  std::error_code error = make_error_code(errc::system_failure);

  auto first = InstanceManager::acquire(options, 1, error);
  CHECK_FALSE(error);
  CHECK(first.number() == 1);
  CHECK(first.held());

  auto none = InstanceManager::acquire(options, 1, error);
  CHECK(error == errc::pool_exhausted);
  CHECK(none.number() == 0);
  CHECK_FALSE(none.held());

  CHECK(InstanceManager::acquire(options, 0, error).number() == 0);
  CHECK(error == errc::config_error);

  auto invalid = options;
  invalid.instance_id = "bad id";
  InstanceManager::acquire(invalid, 2, error);
  CHECK(error == errc::config_error);

  std::ofstream(directory.path() / "a-file").flush();
  auto unusable = options;
  unusable.lock_dir = directory.path() / "a-file" / "locks";
  InstanceManager::acquire(unusable, 2, error);
  CHECK(error == errc::lock_dir_error);
}
