// TcpAndUdpLease and acquire_tcp_and_udp(): a lease of a both service handed over with a listening
// TCP acceptor and a bound UDP socket on its one port.

#include <portpool/port_pool_manager.hpp>
#include <portpool/tcp_and_udp_lease.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <string>
#include <system_error>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using boost::asio::ip::tcp;
using boost::asio::ip::udp;
using Catch::Matchers::Contains;

namespace {

Options both_options(const TempDir& directory) {
  auto options = options_in(directory);
  options.transport = Transport::both;
  return options;
}

}  // namespace

TEST_CASE("acquire_tcp_and_udp hands over one port that accepts connections and receives datagrams") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context io;
  PortPoolManager manager("dns", ports.ports(), both_options(directory));
  auto dns = manager.acquire_tcp_and_udp(io.get_executor());
  CHECK(dns.port() == ports[0]);
  CHECK(dns.lease.transport() == Transport::both);
  CHECK(dns.acceptor.local_endpoint().port() == ports[0]);
  CHECK(dns.socket.local_endpoint().port() == ports[0]);

  tcp::socket client(io);
  client.connect(dns.acceptor.local_endpoint());
  tcp::socket server(io);
  dns.acceptor.accept(server);
  CHECK(server.remote_endpoint() == client.local_endpoint());

  udp::socket sender(io, udp::endpoint(udp::v4(), 0));
  sender.send_to(boost::asio::buffer(std::string("query")), dns.socket.local_endpoint());
  std::array<char, 16> buffer{};
  udp::endpoint from;
  CHECK(dns.socket.receive_from(boost::asio::buffer(buffer), from) == 5);
}

TEST_CASE("a both port is skipped when either protocol is taken, with that protocol's reason") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto listener = listen_on(ports[0]);
  auto datagram = bind_udp_on_address("127.0.0.1", ports[1]);
  REQUIRE(datagram);
  boost::asio::io_context io;
  std::vector<Event> events;
  PortPoolManager manager("dns", ports.ports(), with_recording(both_options(directory), events));
  auto dns = manager.acquire_tcp_and_udp(io.get_executor());
  CHECK(dns.port() == ports[2]);
  REQUIRE(events.size() >= 2);
  CHECK_THAT(events[0].message, Contains("listens on"));
  CHECK_THAT(events[1].message, Contains("has a UDP socket bound to"));
}

TEST_CASE("acquire_tcp_and_udp refuses a service of another transport; the other forms report as theirs do") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context io;
  PortPoolManager tcp_only("web", ports.ports(), options_in(directory));
  CHECK_THROWS_WITH(tcp_only.acquire_tcp_and_udp(io.get_executor()),
                    Contains("the service 'web' is tcp: take its port with acquire_listening()"));
  PortPoolManager manager("dns", ports.ports(), both_options(directory));
  auto held = manager.acquire_tcp_and_udp(io.get_executor());
  std::error_code error;
  auto empty = manager.acquire_tcp_and_udp(io.get_executor(), error);
  CHECK(error == errc::pool_exhausted);
  CHECK(empty.port() == 0);
  CHECK_FALSE(empty.acceptor.is_open());
  CHECK_FALSE(manager.try_acquire_tcp_and_udp(io.get_executor()).has_value());
  CHECK_THROWS_AS(manager.acquire_tcp_and_udp_for(io.get_executor(), std::chrono::milliseconds(1)), PoolExhausted);
}
