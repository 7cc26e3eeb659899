// FileLockPolicy's locks against the lock the design card names, boost::interprocess::file_lock
// (a classic POSIX fcntl lock): each excludes the other, in one process and across processes.

#include <portpool/port_pool_manager.hpp>

#include "fixtures.hpp"
#include "in_child.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <boost/interprocess/sync/file_lock.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

using namespace portpool;
using namespace portpool::test;

namespace {

void create_lock_file(const TempDir& directory, std::uint16_t port) {
  directory.create_private_lock_dir();
  std::ofstream(directory.lock_file(port)).flush();
}

}  // namespace

TEST_CASE("a boost::interprocess::file_lock held on a lock file excludes portpool") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  create_lock_file(directory, ports[0]);
  boost::interprocess::file_lock boost_lock(directory.lock_file(ports[0]).c_str());
  REQUIRE(boost_lock.try_lock());
  PortPoolManager manager("api", ports.ports(), options_in(directory));

  SECTION("in the same process") { CHECK(manager.acquire().port() == ports[1]); }
  SECTION("in another process") {
    auto code = in_child([&] { return manager.acquire().port() == ports[1] ? 0 : 1; });
    CHECK(code == 0);
  }
  boost_lock.unlock();
  CHECK(manager.acquire().port() == ports[0]);
}

TEST_CASE("portpool's hold on a port excludes a boost::interprocess::file_lock on its lock file") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto lease = manager.acquire();

  SECTION("in the same process") {
    boost::interprocess::file_lock boost_lock(directory.lock_file(ports[0]).c_str());
    CHECK_FALSE(boost_lock.try_lock());
  }
  // Closing Boost's descriptor (which drops this process's classic locks) leaves portpool's hold.
  CHECK(in_child([&] { return manager.try_acquire() ? 1 : 0; }) == 0);
  SECTION("in another process") {
    auto code = in_child([&] {
      boost::interprocess::file_lock boost_lock(directory.lock_file(ports[0]).c_str());
      return boost_lock.try_lock() ? 1 : 0;
    });
    CHECK(code == 0);
  }
  lease.release();
  boost::interprocess::file_lock boost_lock(directory.lock_file(ports[0]).c_str());
  CHECK(boost_lock.try_lock());
}
