// The library exactly as it ships: this program is built without PORTPOOL_TEST_HOOKS and without
// the tests' precompiled header, and uses the public headers the way a service does. Every other
// test program is built with the hooks, which replace inline functions of the library.
#ifdef PORTPOOL_TEST_HOOKS
#error "test_shipped_headers checks the shipped headers: build it without PORTPOOL_TEST_HOOKS"
#endif

#include <portpool/asio.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <vector>

using portpool::test::options_in;
using portpool::test::ReservedPorts;
using portpool::test::TempDir;

TEST_CASE("a service takes its ports, the registry names it, and release frees them") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto options = options_in(directory);
  portpool::PortPoolManager manager("web", ports.ports(), options);
  {
    auto first = manager.acquire();
    auto second = manager.acquire();
    CHECK(first.port() == ports[0]);
    CHECK(second.port() == ports[1]);
    CHECK_FALSE(manager.try_acquire().has_value());
    CHECK_THROWS_AS(manager.acquire(), portpool::PoolExhausted);

    auto holders = portpool::Registry::holders(options);
    REQUIRE(holders.size() == 2);
    for (const auto& holder : holders) {
      CHECK(holder.service == "web");
      CHECK(holder.pid == ::getpid());
    }
  }
  CHECK(portpool::Registry::holders(options).empty());
  CHECK(manager.acquire().port() == ports[0]);
}

TEST_CASE("a listening lease hands out a socket that accepts connections on its port") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context io;
  portpool::PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto listening = manager.acquire_listening(io.get_executor());
  REQUIRE(listening.port() == ports[0]);

  boost::asio::ip::tcp::socket client(io);
  client.connect({boost::asio::ip::address_v4::loopback(), listening.port()});
  auto accepted = listening.acceptor.accept();
  CHECK(accepted.remote_endpoint().port() == client.local_endpoint().port());
}

TEST_CASE("the shield reports a deleted lock file") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context io;
  portpool::PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto lease = manager.acquire();
  std::vector<portpool::ShieldEvent> events;
  portpool::PortShield shield(io.get_executor(), lease,
                              [&](const portpool::ShieldEvent& lost) { events.push_back(lost); });

  std::filesystem::remove(lease.lock_file());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (events.empty() && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(50));
  }
  REQUIRE(events.size() == 1);
  CHECK(events[0].reason == portpool::LostReason::lock_file_removed);
  CHECK(events[0].port == ports[0]);
  CHECK(events[0].service == "web");
  shield.stop();
}
