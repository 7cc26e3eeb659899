#include <portpool/port_pool_manager.hpp>
#include <portpool/probe.hpp>
#include <portpool/registry.hpp>
#include <portpool/service_port_table.hpp>
#include <portpool/transport.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

namespace {

Options with_transport(Options options, Transport transport) {
  options.transport = transport;
  return options;
}

// A probe without the transport form of check(), as policies written before transports are.
struct CountingProbe {
  static inline int calls = 0;
  std::optional<std::string> check(const IpAddress& /*address*/, std::uint16_t /*port*/) const {
    ++calls;
    return std::nullopt;
  }
};

}  // namespace

TEST_CASE("a transport's name reads back as the same transport, and no other text is one") {
  for (auto transport : {Transport::tcp, Transport::udp, Transport::both}) {
    CHECK(parse_transport(to_string(transport)) == transport);
  }
  for (const char* text : {"", "UDP", "quic", "tcp ", "udp\n"}) {
    CAPTURE(text);
    CHECK_FALSE(parse_transport(text).has_value());
  }
  CHECK(uses_tcp(Transport::both));
  CHECK(uses_udp(Transport::both));
  CHECK_FALSE(uses_udp(Transport::tcp));
  CHECK_FALSE(uses_tcp(Transport::udp));
}

TEST_CASE("a udp pool skips a port with a UDP socket bound on any local address of either family") {
  const std::vector<const char*> addresses{"::1", "::", "0.0.0.0", "127.0.0.1"};
  for (const char* address : addresses) {
    if (!bind_udp_on_address(address, 0)) {
      PORTPOOL_SKIP("cannot bind a UDP socket to " << address << " on this machine (no IPv6?)");
    }
  }
  const auto* address = GENERATE_COPY(from_range(addresses));
  CAPTURE(address);
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto foreign = bind_udp_on_address(address, ports[0]);
  REQUIRE(foreign);
  std::vector<Event> events;
  PortPoolManager manager("dns", ports.ports(), with_transport(recording_options(directory, events), Transport::udp));
  auto lease = manager.acquire();
  CHECK(lease.port() == ports[1]);
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().reason == RefusalReason::in_use);
  CHECK_THAT(events.front().message, Contains("has a UDP socket bound to"));
  CHECK_THAT(events.front().message, Contains(std::to_string(ports[0])));
}

TEST_CASE("a TCP listener does not take a port from a udp pool, nor a UDP socket from a tcp pool") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  SECTION("a listener, a udp pool") {
    auto listener = listen_on(ports[0]);
    PortPoolManager manager("dns", ports.ports(), with_transport(options_in(directory), Transport::udp));
    CHECK(manager.acquire().port() == ports[0]);
  }
  SECTION("a UDP socket, a tcp pool") {
    auto foreign = bind_udp_on_address("127.0.0.1", ports[0]);
    REQUIRE(foreign);
    PortPoolManager manager("web", ports.ports(), options_in(directory));
    CHECK(manager.transport() == Transport::tcp);
    CHECK(manager.acquire().port() == ports[0]);
  }
}

TEST_CASE("a both pool skips a port that a listener or a UDP socket uses, with the reason of each") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto listener = listen_on(ports[0]);
  auto foreign = bind_udp_on_address("127.0.0.1", ports[1]);
  REQUIRE(foreign);
  std::vector<Event> events;
  PortPoolManager manager("dns", ports.ports(), with_transport(recording_options(directory, events), Transport::both));
  CHECK(manager.acquire().port() == ports[2]);
  REQUIRE(events.size() >= 2);
  CHECK_THAT(events[0].message, Contains("listens on"));
  CHECK_THAT(events[1].message, Contains("has a UDP socket bound to"));
}

TEST_CASE("tcp, udp and both services drawing from one range never get the same port: the lock is per number") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  PortPoolManager tcp("web", ports.ports(), with_transport(options_in(directory), Transport::tcp));
  PortPoolManager udp("dns", ports.ports(), with_transport(options_in(directory), Transport::udp));
  PortPoolManager both("quic", ports.ports(), with_transport(options_in(directory), Transport::both));
  auto first = tcp.acquire();
  auto second = udp.acquire();
  auto third = both.acquire();
  CHECK(first.port() != second.port());
  CHECK(second.port() != third.port());
  CHECK(first.port() != third.port());
  CHECK_THROWS_AS(udp.acquire(), PoolExhausted);
  CHECK_THROWS_AS(both.acquire(), PoolExhausted);
}

TEST_CASE("the holder record says the transport, and a tcp holder's reads as tcp") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  PortPoolManager udp("dns", {ports[0]}, with_transport(options_in(directory), Transport::udp));
  PortPoolManager tcp("web", {ports[1]}, options_in(directory));
  auto datagram = udp.acquire();
  auto stream = tcp.acquire();
  auto udp_holder = Registry::holder_of(ports[0], options_in(directory));
  auto tcp_holder = Registry::holder_of(ports[1], options_in(directory));
  REQUIRE(udp_holder);
  REQUIRE(tcp_holder);
  CHECK(udp_holder->transport == Transport::udp);
  CHECK(tcp_holder->transport == Transport::tcp);
  CHECK(udp_holder->pid == ::getpid());
  CHECK(datagram.transport() == Transport::udp);
  CHECK(stream.transport() == Transport::tcp);
}

TEST_CASE("a manager built from a table takes the service's transport unless its options set one") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  ServicePortTable table;
  table.add_shared_pool("dns", {ports[0], ports[1]}).set_transport("dns", Transport::udp);
  CHECK(table.transport("dns") == Transport::udp);
  CHECK(PortPoolManager(table, "dns", options_in(directory)).transport() == Transport::udp);
  CHECK(PortPoolManager(table, "dns", with_transport(options_in(directory), Transport::both)).transport() ==
        Transport::both);
  CHECK_THROWS_AS(table.set_transport("nope", Transport::udp), ArgumentError);
}

TEST_CASE("a probe policy without the transport form is asked its one question for every transport") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  CountingProbe::calls = 0;
  BasicPortPoolManager<FileLockPolicy, CountingProbe> manager("dns", ports.ports(),
                                                              with_transport(options_in(directory), Transport::udp));
  CHECK(manager.acquire().port() == ports[0]);
  CHECK(CountingProbe::calls == 1);
}
