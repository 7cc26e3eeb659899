// DatagramLease and acquire_datagram(): a lease of a udp service handed over together with a UDP
// socket already bound to its port.

#include <portpool/datagram_lease.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <fcntl.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using boost::asio::ip::udp;
using Catch::Matchers::Contains;

namespace {

Options udp_options(const TempDir& directory) {
  auto options = options_in(directory);
  options.transport = Transport::udp;
  return options;
}

/// Sends a datagram to the socket's port on its address and reads it back from the socket.
std::string echo_through(udp::socket& socket, const std::string& text) {
  udp::socket client(socket.get_executor(), udp::endpoint(socket.local_endpoint().address(), 0));
  client.send_to(boost::asio::buffer(text), socket.local_endpoint());
  std::array<char, 256> buffer{};
  udp::endpoint sender;
  auto size = socket.receive_from(boost::asio::buffer(buffer), sender);
  CHECK(sender == client.local_endpoint());
  return {buffer.data(), size};
}

}  // namespace

TEST_CASE("acquire_datagram hands over a lease and a UDP socket bound to its port") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  boost::asio::io_context io;
  PortPoolManager manager("discovery", ports.ports(), udp_options(directory));
  auto datagram = manager.acquire_datagram(io.get_executor());
  CHECK(datagram.port() == ports[0]);
  CHECK(datagram.lease.held());
  CHECK(datagram.lease.transport() == Transport::udp);
  CHECK(datagram.socket.local_endpoint() == udp::endpoint(boost::asio::ip::address_v4::loopback(), ports[0]));
  CHECK(echo_through(datagram.socket, "hello") == "hello");
  CHECK((::fcntl(datagram.socket.native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("no other socket can bind the port while the datagram lease holds it, and any can after") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context io;
  PortPoolManager manager("discovery", ports.ports(), udp_options(directory));
  {
    auto datagram = manager.acquire_datagram(io.get_executor());
    for (const char* address : {"127.0.0.1", "0.0.0.0"}) {
      CAPTURE(address);
      CHECK_FALSE(bind_udp_on_address(address, ports[0]));
    }
  }
  CHECK(bind_udp_on_address("127.0.0.1", ports[0]));
}

TEST_CASE("a port with a foreign UDP socket is skipped, with the reason acquire() gives") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto foreign = bind_udp_on_address("0.0.0.0", ports[0]);
  REQUIRE(foreign);
  boost::asio::io_context io;
  std::vector<Event> events;
  auto options = udp_options(directory);
  options.on_event = [&events](const Event& event) { events.push_back(event); };
  PortPoolManager manager("discovery", ports.ports(), options);
  auto datagram = manager.acquire_datagram(io.get_executor());
  CHECK(datagram.port() == ports[1]);
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().reason == RefusalReason::in_use);
  CHECK_THAT(events.front().message, Contains("has a UDP socket bound to 0.0.0.0:" + std::to_string(ports[0])));
}

TEST_CASE("an exhausted udp pool: PoolExhausted, the error code, or an empty optional") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context io;
  PortPoolManager manager("discovery", ports.ports(), udp_options(directory));
  auto held = manager.acquire_datagram(io.get_executor());
  CHECK_THROWS_AS(manager.acquire_datagram(io.get_executor()), PoolExhausted);
  std::error_code error;
  auto empty = manager.acquire_datagram(io.get_executor(), error);
  CHECK(error == errc::pool_exhausted);
  CHECK(empty.port() == 0);
  CHECK_FALSE(empty.socket.is_open());
  CHECK_FALSE(manager.try_acquire_datagram(io.get_executor()).has_value());
}

TEST_CASE("acquire_datagram_for gets a port released while it waits") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context io;
  PortPoolManager manager("discovery", ports.ports(), udp_options(directory));
  std::optional<DatagramLease> held(manager.acquire_datagram(io.get_executor()));
  std::thread releaser([&held] { held.reset(); });
  auto datagram = manager.acquire_datagram_for(io.get_executor(), std::chrono::seconds(30));
  releaser.join();
  CHECK(datagram.port() == ports[0]);
}

TEST_CASE("each socket-handing acquisition refuses a service of another transport, naming the one to use") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context io;
  PortPoolManager tcp("web", ports.ports(), options_in(directory));
  PortPoolManager udp("discovery", ports.ports(), udp_options(directory));
  CHECK_THROWS_WITH(tcp.acquire_datagram(io.get_executor()),
                    Contains("the service 'web' is tcp: take its port with acquire_listening()"));
  CHECK_THROWS_WITH(udp.acquire_listening(io.get_executor()),
                    Contains("the service 'discovery' is udp: take its port with acquire_datagram()"));
  std::error_code error;
  auto empty = tcp.acquire_datagram(io.get_executor(), error);
  CHECK(error == errc::config_error);
  CHECK(empty.port() == 0);
  CHECK_THROWS_AS(udp.try_acquire_listening(io.get_executor()), ConfigError);
  CHECK_FALSE(Registry::holder_of(ports[0], options_in(directory)).has_value());
}

TEST_CASE("acquire_datagram binds the IPv6 loopback on request") {
  if (!bind_udp_on_address("::1", 0)) {
    PORTPOOL_SKIP("::1 is not configured on this machine (no IPv6 loopback)");
  }
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context io;
  auto options = udp_options(directory);
  options.probe_address = IpAddress::loopback_v6();
  PortPoolManager manager("discovery", ports.ports(), options);
  auto datagram = manager.acquire_datagram(io.get_executor());
  CHECK(datagram.socket.local_endpoint().address().is_v6());
  CHECK(echo_through(datagram.socket, "over IPv6") == "over IPv6");
}
