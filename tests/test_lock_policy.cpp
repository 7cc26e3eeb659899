// FileLockPolicy's locks against the lock the design card names, boost::interprocess::file_lock
// (a classic POSIX fcntl lock): each excludes the other, in one process and across processes.
// And a lock policy written outside the library: a decorator over FileLockPolicy, checked by the
// concept's trait and used by a manager.

#include <portpool/port_pool_manager.hpp>

#include "fixtures.hpp"
#include "holder.hpp"
#include "in_child.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <boost/interprocess/sync/file_lock.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

// A policy of the application's own, outside namespace portpool: the ports of a maintenance
// window are refused, the others locked by a FileLockPolicy, and each release is logged.
class MaintenancePolicy {
 public:
  MaintenancePolicy(const portpool::Options& options, std::set<std::uint16_t> closed,
                    std::shared_ptr<std::vector<std::uint16_t>> released)
      : files_(options), closed_(std::move(closed)), released_(std::move(released)) {}

  portpool::LockAttempt try_lock(const portpool::Holder& holder, bool explain) const {
    if (closed_.count(holder.port) != 0) {
      return {std::nullopt, explain ? "closed for maintenance" : "", portpool::RefusalReason::lock_unusable,
              std::nullopt};
    }
    auto attempt = files_.try_lock(holder, explain);
    if (attempt.lock) {
      attempt.lock->call_after_release([released = released_, port = holder.port] { released->push_back(port); });
    }
    return attempt;
  }

  const std::filesystem::path& lock_dir() const noexcept { return files_.lock_dir(); }

 private:
  portpool::FileLockPolicy files_;
  std::set<std::uint16_t> closed_;
  std::shared_ptr<std::vector<std::uint16_t>> released_;
};

// Not policies: a lock policy without lock_dir(), one whose try_lock answers something else, a
// probe whose check takes no address.
struct NoLockDir {
  portpool::LockAttempt try_lock(const portpool::Holder&, bool) const;
};
struct WrongAnswer {
  bool try_lock(const portpool::Holder&, bool) const;
  const std::filesystem::path& lock_dir() const noexcept;
};
struct ProbeWithoutAddress {
  std::optional<std::string> check(std::uint16_t) const;
};

static_assert(portpool::is_lock_policy_v<portpool::FileLockPolicy>);
static_assert(portpool::is_lock_policy_v<MaintenancePolicy>);
static_assert(!portpool::is_lock_policy_v<NoLockDir>);
static_assert(!portpool::is_lock_policy_v<WrongAnswer>);
static_assert(!portpool::is_lock_policy_v<int>);
static_assert(portpool::is_probe_policy_v<portpool::BindProbe>);
static_assert(portpool::is_probe_policy_v<portpool::NoProbe>);
static_assert(!portpool::is_probe_policy_v<ProbeWithoutAddress>);
static_assert(!portpool::is_probe_policy_v<MaintenancePolicy>);

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

TEST_CASE("a lock policy written outside the library decorates FileLockPolicy and drives a manager") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto options = options_in(directory);
  auto released = std::make_shared<std::vector<std::uint16_t>>();
  using MaintainedPoolManager = BasicPortPoolManager<MaintenancePolicy, BindProbe>;
  MaintainedPoolManager manager("api", ports.ports(), options, MaintenancePolicy(options, {ports[0]}, released));

  auto lease = manager.acquire();
  CHECK(lease.port() == ports[1]);
  CHECK_FALSE(free_for_another_process(directory, ports[1]));
  auto second = manager.acquire();
  CHECK(second.port() == ports[2]);
  try {
    manager.acquire();
    FAIL("acquire() must throw on an exhausted pool");
  } catch (const PoolExhausted& exhausted) {
    REQUIRE(exhausted.refusals().size() == 3);
    CHECK(exhausted.refusals()[0].reason == RefusalReason::lock_unusable);
    CHECK(exhausted.refusals()[0].detail == "closed for maintenance");
    CHECK(exhausted.refusals()[1].reason == RefusalReason::held);
    REQUIRE(exhausted.refusals()[1].holder.has_value());
    CHECK(exhausted.refusals()[1].holder->pid == ::getpid());
  }
  lease.release();
  CHECK(*released == std::vector<std::uint16_t>{ports[1]});
}

TEST_CASE("a manager whose lock directory was renamed locks where the path leads now, not in the moved directory") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager opened_before("web", ports.ports(), options_in(directory));
  std::filesystem::rename(directory.lock_dir(), directory.path() / "locks.old");

  PortPoolManager opened_after("web", ports.ports(), options_in(directory));
  auto held = opened_after.acquire();
  CHECK_FALSE(opened_before.try_acquire().has_value());  // the port is held in the directory the path names

  held.release();
  auto lease = opened_before.acquire();
  CHECK(lease.lock_file() == directory.lock_file(ports[0]));
  CHECK_FALSE(free_for_another_process(directory, ports[0]));
}

TEST_CASE("a manager whose lock directory was deleted creates it again and locks there") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  std::filesystem::remove_all(directory.lock_dir());

  auto lease = manager.acquire();
  CHECK(std::filesystem::is_directory(directory.lock_dir()));
  CHECK(std::filesystem::exists(directory.lock_file(ports[0])));
  CHECK_FALSE(free_for_another_process(directory, ports[0]));
}
