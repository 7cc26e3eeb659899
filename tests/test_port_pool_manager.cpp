#include <portpool/exit_codes.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/port_pool_manager.hpp>

#include "descriptor_exhaustion.hpp"
#include "example_application_table.hpp"
#include "fixtures.hpp"
#include "holder.hpp"
#include "in_child.hpp"
#include "ports.hpp"
#include "simultaneous_holds.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <memory>
#include <set>
#include <system_error>
#include <type_traits>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

TEST_CASE("acquire takes the first free port in pool order and never one outside the pool") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto first = manager.acquire();
  auto second = manager.acquire();
  auto third = manager.acquire();
  CHECK(first.port() == ports[0]);
  CHECK(second.port() == ports[1]);
  CHECK(third.port() == ports[2]);
  CHECK(first.service() == "web");
  CHECK_FALSE(manager.try_acquire().has_value());
  first.release();
  CHECK(manager.acquire().port() == ports[0]);
}

TEST_CASE("a pool given as a list is tried in its order whatever the instance") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto options = options_in(directory);
  options.instance = 3;
  PortPoolManager manager("web", {ports[2], ports[0], ports[1]}, options);
  auto lease = manager.acquire();
  CHECK(lease.port() == ports[2]);
  CHECK(lease.instance() == 3);
}

TEST_CASE("from a table, shared pools start at index (N-1) mod size and instance pools at their start") {
  TempDir directory;
  auto block = ReservedPorts::consecutive(20, 10);
  auto base = block[0];
  ServicePortTable table(InstanceLayout{base, 5, 2});
  table.add_instance_pool("worker", 0, 3).add_shared_range("gateway", base + 10U, base + 12U);
  auto options = options_in(directory);

  options.instance = 2;
  PortPoolManager gateway_two(table, "gateway", options);
  CHECK(gateway_two.acquire().port() == base + 11);
  PortPoolManager worker_two(table, "worker", options);
  CHECK(worker_two.acquire().port() == base + 5);

  options.instance = 1;
  PortPoolManager gateway_one(table, "gateway", options);
  auto held = gateway_one.acquire();
  CHECK(held.port() == base + 10);
  options.instance = 2;
  auto rotated = PortPoolManager(table, "gateway", options).acquire();
  auto wrapped = PortPoolManager(table, "gateway", options).acquire();
  CHECK(rotated.port() == base + 11);
  CHECK(wrapped.port() == base + 12);
  auto last = PortPoolManager(table, "gateway", options).try_acquire();
  CHECK_FALSE(last.has_value());
}

TEST_CASE("exhaustion names the service, the pool and why each port was unavailable") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto options = options_in(directory);
  options.instance = 4;
  PortPoolManager holder("api", {ports[0]}, options);
  auto held = holder.acquire();
  auto listener = listen_on(ports[1]);

  PortPoolManager manager("api", ports.ports(), options);
  try {
    manager.acquire();
    FAIL("acquire() must throw on an exhausted pool");
  } catch (const PoolExhausted& error) {
    std::string text = error.what();
    CHECK_THAT(text, Contains("'api'"));
    CHECK_THAT(text, Contains(std::to_string(ports[0])));
    CHECK_THAT(text, Contains(std::to_string(ports[1])));
    CHECK_THAT(text, Contains("held by this process (api, instance 4)"));
    CHECK_THAT(text, Contains("in use by a program outside portpool"));
  }
  CHECK_FALSE(manager.try_acquire().has_value());
}

TEST_CASE("a port on which another program listens is skipped, and the event says why") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto listener = listen_on(ports[0]);
  std::vector<Event> events;
  PortPoolManager manager("api", ports.ports(), recording_options(directory, events));
  auto lease = manager.acquire();
  CHECK(lease.port() == ports[1]);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == EventKind::skipped);
  CHECK(events[0].port == ports[0]);
  CHECK_THAT(events[0].message, Contains("outside portpool"));
  CHECK(events[1].kind == EventKind::acquired);
  lease.release();
  REQUIRE(events.size() == 3);
  CHECK(events[2].kind == EventKind::released);
  CHECK(events[2].port == ports[1]);
}

TEST_CASE("try_acquire reports exhaustion through the event callback") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  std::vector<Event> events;
  auto options = recording_options(directory, events);
  PortPoolManager manager("api", ports.ports(), options);
  auto held = manager.acquire();
  events.clear();
  CHECK_FALSE(manager.try_acquire().has_value());
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == EventKind::skipped);
  CHECK(events[1].kind == EventKind::exhausted);
  CHECK_THAT(events[1].message, Contains("no free port for 'api'"));
}

TEST_CASE("a throwing event callback does not break acquisition or release") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  options.on_event = [](const Event&) { throw std::runtime_error("logger failed"); };
  PortPoolManager manager("api", ports.ports(), options);
  auto lease = manager.acquire();
  CHECK(lease.held());
  lease.release();
  CHECK(manager.acquire().port() == ports[0]);
}

TEST_CASE("bad arguments are refused before anything is created") {
  TempDir directory;
  auto options = options_in(directory);
  CHECK_THROWS_WITH(PortPoolManager("bad name", {1000}, options), Contains("service name 'bad name' is invalid"));
  CHECK_THROWS_WITH(PortPoolManager("api", {}, options), Contains("empty"));
  CHECK_THROWS_WITH(PortPoolManager("api", {0, 5000}, options), Contains("port 0"));
  CHECK_THROWS_WITH(PortPoolManager("api", {5000, 5001, 5000}, options), Contains("port 5000 twice"));
  auto table = portpool::test::example_application_table();
  CHECK_THROWS_WITH(PortPoolManager(table, "nope", options), Contains("unknown service 'nope'"));
  options.instance = 11;
  CHECK_THROWS_WITH(PortPoolManager(table, "api-server", options), Contains("instance 11 is out of range"));
  options.instance = 0;
  CHECK_THROWS_WITH(PortPoolManager("api", {5000}, options), Contains("instance 0"));
  options.instance = 1;
  options.instance_id = "has\nnewline";
  CHECK_THROWS_WITH(PortPoolManager("api", {5000}, options), Contains("instance id"));
  CHECK_FALSE(std::filesystem::exists(directory.lock_dir()));
}

TEST_CASE("managers and threads of one process never hold the same port at once") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto options = options_in(directory);
  auto holds = count_simultaneous_holds(ports.ports(), 6, 300, [&] {
    return
        [manager = std::make_shared<PortPoolManager>("api", ports.ports(), options)] { return manager->try_acquire(); };
  });
  CHECK(holds.violations == 0);
  CHECK(holds.acquisitions > 0);
}

TEST_CASE("PoolExhausted gives, for each port of the pool, why it was refused and who holds it") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  const std::uint16_t fetch_blocked = 6000;
  auto options = options_in(directory);

  auto other = spawn_port_holder(directory.lock_dir(), "billing", {ports[0]}, 3);
  REQUIRE(acquired_by(other) == ports[0]);
  auto listener = listen_on(ports[1]);
  directory.create_private_lock_dir();
  std::filesystem::create_directory(directory.lock_file(ports[2]));

  PortPoolManager manager("api", {ports[0], ports[1], fetch_blocked, ports[2]}, options);
  try {
    manager.acquire();
    FAIL("acquire() must throw on an exhausted pool");
  } catch (const PoolExhausted& exhausted) {
    static_assert(std::is_nothrow_copy_constructible_v<PoolExhausted>);
    static_assert(std::is_nothrow_copy_assignable_v<PoolExhausted>);
    PoolExhausted copy("replaced by the copy");
    copy = exhausted;
    CHECK(copy.service() == "api");
    const auto& refusals = copy.refusals();
    REQUIRE(refusals.size() == 4);
    CHECK(refusals[0].port == ports[0]);
    CHECK(refusals[0].reason == RefusalReason::held);
    REQUIRE(refusals[0].holder.has_value());
    CHECK(refusals[0].holder->pid == other.pid());
    CHECK(refusals[0].holder->service == "billing");
    CHECK(refusals[0].holder->instance == 3);
    CHECK(refusals[0].holder->port == ports[0]);
    CHECK_THAT(refusals[0].detail, Contains(fmt::format("held by pid {}", other.pid())));

    CHECK(refusals[1].port == ports[1]);
    CHECK(refusals[1].reason == RefusalReason::in_use);
    CHECK_FALSE(refusals[1].holder.has_value());
    CHECK_THAT(refusals[1].detail, Contains("in use by a program outside portpool"));

    CHECK(refusals[2].port == fetch_blocked);
    CHECK(refusals[2].reason == RefusalReason::blocked_port);
    CHECK_THAT(refusals[2].detail, Contains("allow_fetch_blocked_ports"));

    CHECK(refusals[3].port == ports[2]);
    CHECK(refusals[3].reason == RefusalReason::lock_unusable);
    CHECK_THAT(refusals[3].detail, Contains("a directory stands where its lock file"));

    for (const auto& refusal : refusals) {
      CHECK_THAT(copy.what(), Contains(fmt::format("{}: {}", refusal.port, refusal.detail)));
    }
  }
}

TEST_CASE("a PoolExhausted made from a message alone has no service and no refusals") {
  const PoolExhausted exhausted("all instance numbers 1 to 2 are taken");
  CHECK(exhausted.service().empty());
  CHECK(exhausted.refusals().empty());
  CHECK(std::string(exhausted.what()) == "all instance numbers 1 to 2 are taken");
}

TEST_CASE("the reasons have their names") {
  CHECK(std::string(to_string(RefusalReason::held)) == "held");
  CHECK(std::string(to_string(RefusalReason::in_use)) == "in_use");
  CHECK(std::string(to_string(RefusalReason::blocked_port)) == "blocked_port");
  CHECK(std::string(to_string(RefusalReason::lock_unusable)) == "lock_unusable");
  CHECK(std::string(to_string(RefusalReason::claimed_elsewhere)) == "claimed_elsewhere");
}

TEST_CASE("skipped events carry the reason and the holder, the exhausted event every refusal") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  std::vector<Event> events;
  auto options = recording_options(directory, events);
  options.instance = 2;
  PortPoolManager holder("api", {ports[0]}, options);
  auto held = holder.acquire();
  auto listener = listen_on(ports[1]);
  PortPoolManager manager("api", ports.ports(), options);
  events.clear();

  CHECK_FALSE(manager.try_acquire().has_value());
  REQUIRE(events.size() == 3);
  CHECK(events[0].kind == EventKind::skipped);
  CHECK(events[0].reason == RefusalReason::held);
  REQUIRE(events[0].holder.has_value());
  CHECK(events[0].holder->pid == ::getpid());
  CHECK(events[0].holder->instance == 2);
  CHECK(events[1].kind == EventKind::skipped);
  CHECK(events[1].reason == RefusalReason::in_use);
  CHECK_FALSE(events[1].holder.has_value());
  CHECK(events[2].kind == EventKind::exhausted);
  CHECK_FALSE(events[2].reason.has_value());
  REQUIRE(events[2].refusals.size() == 2);
  CHECK(events[2].refusals[0].reason == RefusalReason::held);
  CHECK(events[2].refusals[1].reason == RefusalReason::in_use);

  held.release();
  events.clear();
  auto lease = manager.acquire();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == EventKind::acquired);
  CHECK_FALSE(events[0].reason.has_value());
  CHECK(events[0].refusals.empty());
}

TEST_CASE("acquire(std::error_code&) clears the code on success, sets it on failure, and never throws") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  std::error_code error = make_error_code(errc::system_failure);

  auto lease = manager.acquire(error);
  CHECK_FALSE(error);
  CHECK(lease);
  CHECK(lease.port() == ports[0]);

  auto refused = manager.acquire(error);
  CHECK(error == errc::pool_exhausted);
  CHECK(error.category() == error_category());
  CHECK_FALSE(refused);
  CHECK_FALSE(refused.held());
  CHECK(refused.port() == 0);
  CHECK(exit_code_for(error) == exit_code::pool_exhausted);

  boost::asio::io_context io;
  auto listening = manager.acquire_listening(io.get_executor(), error);
  CHECK(error == errc::pool_exhausted);
  CHECK(listening.port() == 0);
  CHECK_FALSE(listening.acceptor.is_open());

  lease.release();
  auto taken = manager.acquire_listening(io.get_executor(), error);
  CHECK_FALSE(error);
  CHECK(taken.port() == ports[0]);
  CHECK(taken.acceptor.is_open());
}

TEST_CASE("acquire(std::error_code&) reports running out of descriptors as resource_error") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  auto code = in_child([&] {
    PortPoolManager manager("api", ports.ports(), options);
    meet_classes_before_running_out(manager);
    UniqueFd lowest_free(::dup(0));
    rlimit no_more{static_cast<rlim_t>(lowest_free.get()), static_cast<rlim_t>(lowest_free.get())};
    lowest_free.reset();
    if (::setrlimit(RLIMIT_NOFILE, &no_more) != 0) {
      std::cerr << "cannot lower RLIMIT_NOFILE\n";
      return 2;
    }
    std::error_code error;
    auto lease = manager.acquire(error);
    if (error != errc::resource_error || lease.port() != 0) {
      std::cerr << "expected resource_error, got " << error.message() << '\n';
      return 1;
    }
    return exit_code_for(error) == exit_code::system_failure ? 0 : 3;
  });
  CHECK(code == 0);
}
