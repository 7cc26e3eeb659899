// ListeningLease and acquire_listening(): a lease handed over together with a socket already
// listening on its port.

#include <portpool/impl/socket_table.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/port_pool_manager.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using boost::asio::ip::tcp;
using Catch::Matchers::Contains;

namespace {

/// Connects to the acceptor and accepts the connection; true when both ends see each other.
bool accepts_a_connection(tcp::acceptor& acceptor) {
  auto executor = acceptor.get_executor();
  tcp::socket client(executor);
  auto local = acceptor.local_endpoint();
  auto target =
      local.address().is_unspecified()
          ? tcp::endpoint(local.address().is_v6() ? boost::asio::ip::address(boost::asio::ip::address_v6::loopback())
                                                  : boost::asio::ip::address(boost::asio::ip::address_v4::loopback()),
                          local.port())
          : local;
  client.connect(target);  // completes against the backlog, before accept()
  tcp::socket server(executor);
  acceptor.accept(server);
  return server.remote_endpoint() == client.local_endpoint();
}

std::vector<std::string> messages(const std::vector<Event>& events) {
  std::vector<std::string> texts;
  texts.reserve(events.size());
  for (const auto& event : events) {
    texts.push_back(std::to_string(static_cast<int>(event.kind)) + " " + std::to_string(event.port) + " " +
                    event.message);
  }
  return texts;
}

/// A port reserved on [::1], as ports.hpp does on 127.0.0.1; nullopt when ::1 is not configured.
struct ReservedV6 {
  portpool::UniqueFd socket;
  std::uint16_t port = 0;
};

std::optional<ReservedV6> reserve_v6_loopback() {
  portpool::UniqueFd socket(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  if (!socket || ::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return std::nullopt;
  }
  int reuse = 1;
  ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  socklen_t size = sizeof address;
  ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &size);
  return ReservedV6{std::move(socket), ntohs(address.sin6_port)};
}

}  // namespace

TEST_CASE("acquire_listening hands over a lease and an acceptor listening on its port") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  boost::asio::io_context context;
  PortPoolManager manager("api-server", ports.ports(), options_in(directory));
  auto listening = manager.acquire_listening(context.get_executor());

  CHECK(listening.lease.held());
  CHECK(listening.port() == ports[0]);
  REQUIRE(listening.acceptor.is_open());
  CHECK(listening.acceptor.local_endpoint() == tcp::endpoint(boost::asio::ip::address_v4::loopback(), ports[0]));
  CHECK(accepts_a_connection(listening.acceptor));

  // The kernel lists it as listening, under the acceptor's own socket inode.
  auto inode = detail::socket_inode_of_fd(listening.acceptor.native_handle());
  CHECK(detail::ListenerSnapshot::read()->listening(ports[0], inode));

  // The port is held: this process and others are refused it until the lease goes.
  PortPoolManager other("api-server", {ports[0]}, options_in(directory));
  CHECK_FALSE(other.try_acquire().has_value());
  auto second = manager.acquire_listening(context.get_executor());
  CHECK(second.port() == ports[1]);
}

TEST_CASE("destroying a listening lease closes the acceptor, then frees the port") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context context;
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  std::uint64_t inode = 0;
  {
    auto listening = manager.acquire_listening(context.get_executor());
    inode = detail::socket_inode_of_fd(listening.acceptor.native_handle());
  }
  CHECK_FALSE(detail::ListenerSnapshot::read()->listening(ports[0], inode));
  CHECK(manager.acquire().port() == ports[0]);
}

TEST_CASE("a port with a foreign listener is skipped, with the same reason and events as acquire()") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto foreign = listen_on(ports[0]);
  boost::asio::io_context context;

  std::vector<Event> probed;
  std::vector<Event> bound;
  {
    PortPoolManager manager("web", ports.ports(), recording_options(directory, probed));
    CHECK(manager.acquire().port() == ports[1]);
  }
  {
    PortPoolManager manager("web", ports.ports(), recording_options(directory, bound));
    auto listening = manager.acquire_listening(context.get_executor());
    CHECK(listening.port() == ports[1]);
    CHECK(accepts_a_connection(listening.acceptor));
  }
  // The release events differ in nothing either; compare skipped + acquired.
  REQUIRE(bound.size() >= 2);
  CHECK(bound[0].kind == EventKind::skipped);
  CHECK_THAT(bound[0].message, Contains("in use by a program outside portpool"));
  CHECK(messages(bound) == messages(probed));
}

TEST_CASE("an exhausted pool is explained exactly as by acquire()") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto foreign = listen_on(ports[0]);
  boost::asio::io_context context;
  PortPoolManager holder("web", {ports[1]}, options_in(directory));
  auto held = holder.acquire();
  auto second_foreign = listen_on(ports[2]);

  std::vector<Event> probed;
  std::vector<Event> bound;
  PortPoolManager probing("web", ports.ports(), recording_options(directory, probed));
  PortPoolManager binding("web", ports.ports(), recording_options(directory, bound));

  std::string probe_message;
  std::string bind_message;
  try {
    probing.acquire();
  } catch (const PoolExhausted& error) {
    probe_message = error.what();
  }
  try {
    binding.acquire_listening(context.get_executor());
  } catch (const PoolExhausted& error) {
    bind_message = error.what();
  }
  CHECK_FALSE(bind_message.empty());
  CHECK(bind_message == probe_message);
  CHECK_THAT(bind_message, Contains("held by this process") && Contains("in use by a program outside portpool"));
  CHECK(messages(bound) == messages(probed));

  probed.clear();
  bound.clear();
  CHECK_FALSE(probing.try_acquire().has_value());
  CHECK_FALSE(binding.try_acquire_listening(context.get_executor()).has_value());
  CHECK(messages(bound) == messages(probed));
  REQUIRE_FALSE(bound.empty());
  CHECK(bound.back().kind == EventKind::exhausted);
}

TEST_CASE("try_acquire_listening gives an empty optional on an exhausted pool, a listening lease otherwise") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context context;
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto first = manager.try_acquire_listening(context.get_executor());
  REQUIRE(first.has_value());
  CHECK(first->acceptor.is_open());
  CHECK_FALSE(manager.try_acquire_listening(context.get_executor()).has_value());
}

TEST_CASE("acquire_listening binds the IPv6 loopback on request") {
  auto reserved = reserve_v6_loopback();
  if (!reserved) {
    PORTPOOL_SKIP("::1 is not configured on this machine (no IPv6 loopback)");
  }
  TempDir directory;
  boost::asio::io_context context;
  auto options = options_in(directory);
  options.probe_address = boost::asio::ip::address_v6::loopback();
  PortPoolManager manager("web", {reserved->port}, options);
  auto listening = manager.acquire_listening(context.get_executor());
  CHECK(listening.acceptor.local_endpoint() == tcp::endpoint(boost::asio::ip::address_v6::loopback(), reserved->port));
  CHECK(accepts_a_connection(listening.acceptor));
}

TEST_CASE("acquire_listening binds the any address on request") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context context;
  auto options = options_in(directory);
  options.probe_address = boost::asio::ip::address_v4::any();
  PortPoolManager manager("web", ports.ports(), options);
  auto listening = manager.acquire_listening(context.get_executor());
  CHECK(listening.acceptor.local_endpoint() == tcp::endpoint(boost::asio::ip::address_v4::any(), ports[0]));
  CHECK(accepts_a_connection(listening.acceptor));
}

TEST_CASE("the listening socket is not inherited by child processes") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  boost::asio::io_context context;
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  auto listening = manager.acquire_listening(context.get_executor());
  CHECK((::fcntl(listening.acceptor.native_handle(), F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("move-assigning a listening lease closes the old socket before it releases the old port") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  boost::asio::io_context context;
  std::optional<bool> listening_at_release;
  std::uint16_t old_port = 0;
  auto options = options_in(directory);
  options.on_event = [&](const Event& event) {
    if (event.kind == EventKind::released && event.port == old_port) {
      listening_at_release = listen_on_address("127.0.0.1", old_port).get() < 0;  // taken while still listening
    }
  };
  PortPoolManager manager("web", ports.ports(), options);
  auto target = manager.acquire_listening(context.get_executor());
  old_port = target.port();
  target = manager.acquire_listening(context.get_executor());
  REQUIRE(listening_at_release.has_value());
  CHECK_FALSE(*listening_at_release);
  CHECK(target.port() != old_port);
}
