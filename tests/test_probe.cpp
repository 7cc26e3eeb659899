#include <portpool/port_pool_manager.hpp>
#include <portpool/port_shield.hpp>
#include <portpool/probe.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <string>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

namespace {

/// The first of `addresses` that this machine cannot listen on (no IPv6, or 127.0.0.2 not routed to
/// the loopback interface), or nullptr when it can listen on every one.
template <class Addresses>
const char* first_unavailable(const Addresses& addresses) {
  for (const char* address : addresses) {
    if (!can_listen_on_address(address)) {
      return address;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a port with a listener on any local address of either family is skipped and the next one handed out") {
  const std::vector<const char*> addresses{"::1", "127.0.0.2", "::", "0.0.0.0", "127.0.0.1"};
  if (const auto* missing = first_unavailable(addresses)) {
    PORTPOOL_SKIP("cannot listen on " << missing << " on this machine (no IPv6, or not routed to loopback)");
  }
  const auto* address = GENERATE_COPY(from_range(addresses));
  CAPTURE(address);
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto listener = listen_on_address(address, ports[0]);
  REQUIRE(listener);
  std::vector<Event> events;
  PortPoolManager manager("web", ports.ports(), recording_options(directory, events));
  auto lease = manager.acquire();
  CHECK(lease.port() == ports[1]);
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().kind == EventKind::skipped);
  CHECK_THAT(events.front().message, Contains("in use by a program outside portpool, which listens on"));
  CHECK_THAT(events.front().message, Contains(std::to_string(ports[0])));
}

TEST_CASE("acquire_listening skips the same ports as acquire") {
  const std::vector<const char*> addresses{"::1", "127.0.0.2"};
  if (const auto* missing = first_unavailable(addresses)) {
    PORTPOOL_SKIP("cannot listen on " << missing << " on this machine (no IPv6, or not routed to loopback)");
  }
  const auto* address = GENERATE_COPY(from_range(addresses));
  CAPTURE(address);
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto listener = listen_on_address(address, ports[0]);
  REQUIRE(listener);
  boost::asio::io_context io;
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto listening = manager.acquire_listening(io.get_executor());
  CHECK(listening.port() == ports[1]);
}

TEST_CASE("the probe and the shield agree: a port handed out is not one the shield calls taken") {
  if (!can_listen_on_address("::1")) {
    PORTPOOL_SKIP("::1 is not configured on this machine (no IPv6 loopback)");
  }
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto listener = listen_on_address("::1", ports[0]);
  REQUIRE(listener);
  boost::asio::io_context io;
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto lease = manager.acquire();
  ShieldOptions shield_options;
  shield_options.interval = std::chrono::milliseconds(20);
  bool lost = false;
  PortShield shield(
      io.get_executor(), lease, [&lost](const ShieldEvent&) { lost = true; }, shield_options);
  io.run_for(std::chrono::milliseconds(300));
  CHECK_FALSE(lost);
  CHECK(lease.port() == ports[1]);
}

TEST_CASE("a port bound on [::1] by another program is refused by BindProbe itself") {
  if (!can_listen_on_address("::1")) {
    PORTPOOL_SKIP("::1 is not configured on this machine (no IPv6 loopback)");
  }
  auto ports = ReservedPorts::any(1);
  auto listener = listen_on_address("::1", ports[0]);
  REQUIRE(listener);
  auto refusal = BindProbe{}.check(boost::asio::ip::address_v4::loopback(), ports[0]);
  REQUIRE(refusal);
  CHECK_THAT(*refusal, Contains("[::1]:" + std::to_string(ports[0])));
  listener.reset();
  CHECK_FALSE(BindProbe{}.check(boost::asio::ip::address_v4::loopback(), ports[0]));
}
