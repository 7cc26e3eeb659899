// datagram_echo: a UDP service that takes its port from a pool, already bound, and sends every
// datagram back to its sender. Run two at once: each gets its own port of the pool.
//
//   datagram_echo [FIRST LAST]      (the pool, default 5350 5359)
//
// It prints "echoing datagrams on 127.0.0.1:PORT" once the socket is bound, and stops on SIGINT or
// SIGTERM, giving the port back.

#include <portpool/datagram_lease.hpp>
#include <portpool/parse_integer.hpp>
#include <portpool/port_pool_manager.hpp>

#include <fmt/format.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/signal_set.hpp>

#include <array>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <vector>

namespace {

std::vector<std::uint16_t> pool_from(int argc, char** argv) {
  std::uint16_t first = 5350;
  std::uint16_t last = 5359;
  if (argc == 3) {
    auto from = portpool::parse_integer<std::uint16_t>(argv[1]);
    auto to = portpool::parse_integer<std::uint16_t>(argv[2]);
    if (!from || !to || *from == 0 || *to < *from) {
      throw portpool::ConfigError("the pool must be two ports FIRST LAST with 1 <= FIRST <= LAST <= 65535");
    }
    first = *from;
    last = *to;
  } else if (argc != 1) {
    throw portpool::ConfigError("usage: datagram_echo [FIRST LAST]");
  }
  std::vector<std::uint16_t> pool;
  for (unsigned port = first; port <= last; ++port) {
    pool.push_back(static_cast<std::uint16_t>(port));
  }
  return pool;
}

// Receives one datagram, sends it back, and waits for the next.
class Echo {
 public:
  explicit Echo(boost::asio::ip::udp::socket& socket) : socket_(socket) {}

  void receive() {
    socket_.async_receive_from(boost::asio::buffer(buffer_), sender_,
                               [this](boost::system::error_code error, std::size_t size) {
                                 if (error) {
                                   return;  // the socket was closed: we are stopping
                                 }
                                 boost::system::error_code ignored;
                                 socket_.send_to(boost::asio::buffer(buffer_.data(), size), sender_, 0, ignored);
                                 receive();
                               });
  }

 private:
  boost::asio::ip::udp::socket& socket_;
  boost::asio::ip::udp::endpoint sender_;
  std::array<char, 65536> buffer_{};
};

}  // namespace

int main(int argc, char** argv) try {
  portpool::Options options;  // the default lock directory; PORTPOOL_LOCK_DIR overrides it
  options.transport = portpool::Transport::udp;
  portpool::PortPoolManager manager("datagram-echo", pool_from(argc, argv), options);

  boost::asio::io_context io;
  portpool::DatagramLease datagram = manager.acquire_datagram(io.get_executor());
  fmt::print("echoing datagrams on 127.0.0.1:{}\n", datagram.port());
  std::fflush(stdout);

  Echo echo(datagram.socket);
  echo.receive();
  boost::asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](boost::system::error_code, int) { datagram.socket.close(); });
  io.run();
  return 0;
} catch (const portpool::PoolExhausted& exhausted) {
  fmt::print(stderr, "datagram_echo: {}\n", exhausted.what());
  return 75;
} catch (const std::exception& error) {
  fmt::print(stderr, "datagram_echo: {}\n", error.what());
  return 1;
}
