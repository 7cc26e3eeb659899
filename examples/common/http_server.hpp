#pragma once

// The HTTP server: accepts connections on an acceptor that is already listening (the one portpool
// bound for the port it leased, so there is no gap in which another program could take the port),
// keeps the number of connections under a cap, and shuts down gracefully.

#include "http_session.hpp"
#include "log_rate_limiter.hpp"
#include "origin_policy.hpp"
#include "request_handler.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace portpool_example {

struct HttpServerSettings {
  /// The HTTP Server header of every response.
  std::string server_name;
  SessionLimits limits;
  /// At most this many connections at once, long-lived streams a handler took over (event
  /// subscribers) included. A new connection beyond it closes the longest-idle one (a client
  /// between requests, or a stream, loses no answer), so idle connections cannot lock others out.
  std::size_t max_connections = 1024;
  /// Browser origins admitted besides the loopback ones (see OriginPolicy).
  std::vector<std::string> allowed_origins;
};

class HttpServer : public std::enable_shared_from_this<HttpServer> {
 public:
  /// Serves on `acceptor`, which must be open and listening and must outlive the server, with
  /// `handler` answering.
  HttpServer(boost::asio::ip::tcp::acceptor& acceptor, RequestHandler& handler, const HttpServerSettings& settings);

  void start();

  /// Stops accepting, lets every connection finish the request it is answering, and closes those
  /// still open after `grace`. The server's work on the executor ends when the last one closes.
  void shutdown(std::chrono::milliseconds grace);

 private:
  void accept();
  void on_accept(boost::beast::error_code error, boost::asio::ip::tcp::socket socket);
  bool make_room();
  void retry_accept_later();
  void forget(std::uint64_t connection_id);
  void taken_over(std::uint64_t connection_id, const std::shared_ptr<Connection>& stream);
  void close_all();
  std::vector<std::shared_ptr<Connection>> open_connections() const;

  boost::asio::ip::tcp::acceptor& acceptor_;
  OriginPolicy origins_;
  LogRateLimiter log_;
  SessionContext context_;
  std::size_t max_connections_;
  /// By id, which is the order of acceptance: the first idle one found is the longest-idle. A
  /// connection a handler took over keeps its session's id.
  std::map<std::uint64_t, std::weak_ptr<Connection>> connections_;
  std::uint64_t next_connection_id_ = 0;
  boost::asio::steady_timer accept_retry_;
  boost::asio::steady_timer drain_deadline_;
  bool stopping_ = false;
};

}  // namespace portpool_example
