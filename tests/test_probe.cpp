#include <portpool/port_pool_manager.hpp>
#include <portpool/port_shield.hpp>
#include <portpool/probe.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
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

/// A program outside portpool listening on `address`:`port`, or an empty descriptor, with a
/// warning that the test has nothing to check, where this machine cannot have that address.
portpool::UniqueFd foreign_listener_or_warning(const char* address, std::uint16_t port) {
  auto listener = listen_on_address(address, port);
  if (!listener) {
    WARN("cannot listen on " << address << " on this machine (no IPv6, or not routed to loopback); nothing to test");
  }
  return listener;
}

}  // namespace

TEST_CASE("a port with a listener on any local address of either family is skipped and the next one handed out") {
  const auto* address = GENERATE("::1", "127.0.0.2", "::", "0.0.0.0", "127.0.0.1");
  CAPTURE(address);
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto listener = foreign_listener_or_warning(address, ports[0]);
  if (!listener) {
    return;
  }
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
  const auto* address = GENERATE("::1", "127.0.0.2");
  CAPTURE(address);
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto listener = foreign_listener_or_warning(address, ports[0]);
  if (!listener) {
    return;
  }
  boost::asio::io_context io;
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto listening = manager.acquire_listening(io.get_executor());
  CHECK(listening.port() == ports[1]);
}

TEST_CASE("the probe and the shield agree: a port handed out is not one the shield calls taken") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto listener = foreign_listener_or_warning("::1", ports[0]);
  if (!listener) {
    return;
  }
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
  auto ports = ReservedPorts::any(1);
  auto listener = foreign_listener_or_warning("::1", ports[0]);
  if (!listener) {
    return;
  }
  auto refusal = BindProbe{}.check(boost::asio::ip::address_v4::loopback(), ports[0]);
  REQUIRE(refusal);
  CHECK_THAT(*refusal, Contains("[::1]:" + std::to_string(ports[0])));
  listener.reset();
  CHECK_FALSE(BindProbe{}.check(boost::asio::ip::address_v4::loopback(), ports[0]));
}
