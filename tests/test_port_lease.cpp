// PortLease: released on destruction, on release() (once), when moved over or unwound past by an
// exception; its record retired with it; a forked copy holds nothing; a moved-from lease is safe.

#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "holder.hpp"
#include "in_child.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <utility>

using namespace portpool;
using namespace portpool::test;

namespace {

/// Checks that this process still holds `port` through `lease`: the lease says so, another process
/// cannot take the port, and the registry names this process.
void check_held_here(const TempDir& directory, const PortLease& lease, std::uint16_t port) {
  CHECK(lease.held());
  CHECK_FALSE(free_for_another_process(directory, port));
  auto holder = Registry::holder_of(port, options_in(directory));
  REQUIRE(holder.has_value());
  CHECK(holder->pid == ::getpid());
}

}  // namespace

TEST_CASE("a lease releases on destruction, and release() is idempotent") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  {
    auto lease = manager.acquire();
    CHECK(lease.held());
    CHECK_FALSE(free_for_another_process(directory, ports[0]));
  }
  CHECK(free_for_another_process(directory, ports[0]));

  auto lease = manager.acquire();
  lease.release();
  lease.release();
  CHECK_FALSE(lease.held());
  CHECK(lease.port() == ports[0]);
  CHECK(free_for_another_process(directory, ports[0]));
}

TEST_CASE("moving a lease moves the hold, and assigning over a lease releases the old port") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto first = manager.acquire();
  auto moved = std::move(first);
  CHECK_FALSE(first.held());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  CHECK(moved.held());
  CHECK(moved.port() == ports[0]);

  auto second = manager.acquire();
  CHECK(second.port() == ports[1]);
  second = std::move(moved);
  CHECK(second.port() == ports[0]);
  CHECK(free_for_another_process(directory, ports[1]));
  CHECK_FALSE(free_for_another_process(directory, ports[0]));
}

TEST_CASE("a lease is released when an exception unwinds past it") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  try {
    auto lease = manager.acquire();
    CHECK(lease.held());
    throw std::runtime_error("service failed to start");
  } catch (const std::runtime_error&) {
  }
  CHECK(free_for_another_process(directory, ports[0]));
}

TEST_CASE("releasing retires the holder record, and the lock file stays for the next holder") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto lease = manager.acquire();
  CHECK(lease.lock_file() == directory.lock_file(ports[0]));
  CHECK(Registry::holders(directory.lock_dir()).size() == 1);
  lease.release();
  CHECK(std::filesystem::exists(lease.lock_file()));
  CHECK(std::distance(std::filesystem::directory_iterator(directory.lock_dir()), {}) == 1);  // nothing else
  CHECK(Registry::holders(directory.lock_dir()).empty());
}

TEST_CASE("many acquire/release cycles leave no descriptor behind") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  {  // the steady state: the manager keeps both lock files open between holds
    auto warm_up = manager.acquire();
    auto second = manager.try_acquire();
  }
  auto before = open_descriptors();
  for (int cycle = 0; cycle < 20000; ++cycle) {
    auto lease = manager.acquire();
    auto exhausted_check = manager.try_acquire();
  }
  CHECK(open_descriptors() == before);
}

TEST_CASE("a forked child neither holds nor believes it holds its parent's ports") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  PortPoolManager manager("api", ports.ports(), options);
  auto lease = manager.acquire();
  auto code = in_child([&] {
    // The child's copy of the lease must not release the parent's lock nor remove its record.
    bool believes_it_holds = Registry::holder_of(ports[0], options).value_or(Holder{}).pid == ::getpid();
    lease.release();
    return believes_it_holds ? 1 : 0;
  });
  CHECK(code == 0);
  check_held_here(directory, lease, ports[0]);
}

TEST_CASE("a forked child neither holds, nor believes it holds, nor can take its parent's ports") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto lease = manager.acquire();
  auto code = in_child([&] {
    if (lease.held()) {
      std::cerr << "the child's copy of the lease says it is held\n";
      return 1;
    }
    if (manager.try_acquire()) {
      std::cerr << "the child took its parent's port\n";
      return 2;
    }
    auto copy = std::move(lease);  // destroyed here, as at the child's exit
    return 0;
  });
  CHECK(code == 0);
  check_held_here(directory, lease, ports[0]);
}

TEST_CASE("a moved-from lease answers its accessors safely") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto lease = manager.acquire();
  auto moved = std::move(lease);
  CHECK(moved.held());
  CHECK_FALSE(lease.held());  // NOLINT(bugprone-use-after-move): what this test is about
  CHECK(lease.port() == ports[0]);
  CHECK(lease.service().empty());
  CHECK(lease.instance_id().empty());
  CHECK(lease.lock_file().empty());
  CHECK(lease.lock_file_identity().inode == 0);
  CHECK(lease.lock_descriptor() == -1);
  lease.set_readiness(Readiness::ready);
  lease.release();
  CHECK(moved.held());

  PortLease assigned;
  assigned = std::move(moved);
  CHECK(assigned.held());
  CHECK(assigned.service() == "api");
  CHECK_FALSE(moved.held());  // NOLINT(bugprone-use-after-move): what this test is about
  CHECK(moved.service().empty());
  CHECK(moved.instance_id().empty());
}
