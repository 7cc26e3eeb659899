#pragma once

// The HTTP server: accepts connections on an acceptor that is already listening (the one portpool
// bound for the port it leased, so there is no gap in which another program could take the port),
// and shuts down gracefully.

#include "http_session.hpp"
#include "request_handler.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace portpool_example {

class HttpServer : public std::enable_shared_from_this<HttpServer> {
 public:
  /// Serves on `acceptor`, which must be open and listening and must outlive the server, with
  /// `handler` answering; `server_name` is the Server header of every response.
  HttpServer(boost::asio::ip::tcp::acceptor& acceptor, RequestHandler& handler, std::string server_name,
             SessionLimits limits = {});

  void start();

  /// Stops accepting, lets every connection finish the request it is answering, and closes those
  /// still open after `grace`. The server's work on the executor ends when the last one closes.
  void shutdown(std::chrono::milliseconds grace);

 private:
  void accept();
  void on_accept(boost::beast::error_code error, boost::asio::ip::tcp::socket socket);
  void retry_accept_later();
  void forget(std::uint64_t session_id);
  void close_all();
  std::vector<std::shared_ptr<HttpSession>> open_sessions() const;

  boost::asio::ip::tcp::acceptor& acceptor_;
  RequestHandler& handler_;
  std::string server_name_;
  SessionLimits limits_;
  std::map<std::uint64_t, std::weak_ptr<HttpSession>> sessions_;
  std::uint64_t next_session_id_ = 0;
  boost::asio::steady_timer accept_retry_;
  boost::asio::steady_timer drain_deadline_;
  bool stopping_ = false;
};

}  // namespace portpool_example
