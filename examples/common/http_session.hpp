#pragma once

// One client connection: reads requests (within size limits and timeouts), hands them to the
// handler, writes the responses, and keeps the connection alive between requests.

#include "http_message.hpp"
#include "request_handler.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace portpool_example {

struct SessionLimits {
  std::uint32_t header_bytes = 8 * 1024;
  std::uint64_t body_bytes = std::uint64_t{64} * 1024;
  /// How long a connection may wait for (or take to send) its next request.
  std::chrono::seconds read_timeout{30};
  std::chrono::seconds write_timeout{10};
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  /// `on_closed` runs when the session is gone (the connection closed, nothing pending).
  HttpSession(boost::asio::ip::tcp::socket socket, RequestHandler& handler, std::string server_name,
              SessionLimits limits, std::function<void()> on_closed);
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;
  HttpSession(HttpSession&&) = delete;
  HttpSession& operator=(HttpSession&&) = delete;
  ~HttpSession();

  void start();

  /// Closes an idle connection now; a request being answered gets its response first (with
  /// `Connection: close`).
  void stop();

  /// Closes the connection now, whatever it is doing.
  void close();

 private:
  void read_request();
  void on_read(boost::beast::error_code error);
  void answer(Response response);
  void reject(const std::string& reason);
  void write(Response response, bool keep_alive);
  void on_write(boost::beast::error_code error);
  void linger();
  void discard_input();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  RequestHandler& handler_;
  std::string server_name_;
  SessionLimits limits_;
  std::function<void()> on_closed_;
  Response response_;
  unsigned request_version_ = 11;
  bool request_keep_alive_ = false;
  bool busy_ = false;
  bool stopping_ = false;
};

}  // namespace portpool_example
