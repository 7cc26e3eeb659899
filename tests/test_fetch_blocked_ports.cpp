#include <portpool/fetch_blocked_ports.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/service_port_table.hpp>

#include "example_application_table.hpp"
#include "fixtures.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

// Whether a lock file could be taken, whatever else uses the port on this machine.
using LockOnlyManager = BasicPortPoolManager<FileLockPolicy, NoProbe>;

TEST_CASE("the fetch standard's bad ports are known, and ordinary ports are not") {
  for (int port : {1, 22, 6000, 6566, 6665, 6669, 6679, 6697, 10080}) {
    CAPTURE(port);
    CHECK(is_fetch_blocked_port(static_cast<std::uint16_t>(port)));
  }
  for (int port : {80, 443, 3000, 5173, 6001, 7000, 8080, 9000, 65535}) {
    CAPTURE(port);
    CHECK_FALSE(is_fetch_blocked_port(static_cast<std::uint16_t>(port)));
  }
}

TEST_CASE("port 6000 in a pool is skipped with the reason, and the next port is handed out") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  std::vector<Event> events;
  LockOnlyManager manager("mcp", {6000, ports[0]}, recording_options(directory, events));
  auto lease = manager.acquire();
  CHECK(lease.port() == ports[0]);
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().kind == EventKind::skipped);
  CHECK_THAT(events.front().message, Contains("browsers and fetch() refuse to connect to port 6000"));
}

TEST_CASE("a pool whose only port is fetch-blocked is exhausted with the reason") {
  TempDir directory;
  LockOnlyManager manager("mcp", {6000}, options_in(directory));
  CHECK_THROWS_WITH(manager.acquire(), Contains("6000: browsers and fetch() refuse to connect to port 6000"));
}

TEST_CASE("a pool that opts in gets fetch-blocked ports, by option or by table") {
  TempDir directory;
  SECTION("Options::allow_fetch_blocked_ports") {
    auto options = options_in(directory);
    options.allow_fetch_blocked_ports = true;
    LockOnlyManager manager("x11", {6000}, options);
    CHECK(manager.acquire().port() == 6000);
  }
  SECTION("ServicePortTable::allow_fetch_blocked_ports") {
    auto table = example_application_table().allow_fetch_blocked_ports("mcp-universal");
    CHECK(table.allows_fetch_blocked_ports("mcp-universal"));
    CHECK_FALSE(table.allows_fetch_blocked_ports("api-server"));
    LockOnlyManager manager(table, "mcp-universal", options_in(directory));
    CHECK(manager.acquire().port() == 6000);
  }
}

TEST_CASE("the example table has one fetch-blocked port for instances 1 to 10: 6000, instance 1's mcp-universal") {
  auto table = example_application_table();
  CHECK_FALSE(table.allows_fetch_blocked_ports("mcp-universal"));
  std::vector<std::uint16_t> blocked;
  for (const auto& service : table.services()) {
    for (unsigned instance = 1; instance <= table.layout().max; ++instance) {
      for (auto port : table.fetch_blocked_ports(service, instance)) {
        blocked.push_back(port);
      }
    }
  }
  std::sort(blocked.begin(), blocked.end());
  blocked.erase(std::unique(blocked.begin(), blocked.end()), blocked.end());
  CHECK(blocked == std::vector<std::uint16_t>{6000});
  TempDir directory;
  LockOnlyManager manager(table, "mcp-universal", options_in(directory));
  CHECK(manager.acquire().port() == 6001);
}
