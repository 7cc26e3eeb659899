#pragma once

// One client connection: reads requests (within size limits and timeouts), refuses those that
// HTTP/1.1 or the origin policy does not allow, hands the others to the handler, writes the
// responses, and keeps the connection alive between requests.

#include "connection.hpp"
#include "http_message.hpp"
#include "log_rate_limiter.hpp"
#include "origin_policy.hpp"
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
  /// How long a connection may wait for the first byte of its next request.
  std::chrono::seconds idle_timeout{30};
  /// How long a request header may take to arrive once it has begun (against slow senders).
  std::chrono::seconds header_timeout{10};
  /// How long the body may take once the header is read.
  std::chrono::seconds body_timeout{30};
  std::chrono::seconds write_timeout{10};
};

/// What every session of one server shares; the server owns it and outlives its sessions.
struct SessionContext {
  RequestHandler& handler;
  const OriginPolicy& origins;
  LogRateLimiter& log;
  std::string server_name;
  SessionLimits limits;
};

class HttpSession : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  /// `on_closed` runs when the connection is gone (closed, nothing pending): when the session ends,
  /// or, if the handler took the connection over, when the stream that took it ends.
  /// `on_taken_over` runs when the handler took the connection over, with the stream's connection.
  HttpSession(boost::asio::ip::tcp::socket socket, SessionContext& context, std::function<void()> on_closed,
              std::function<void(std::shared_ptr<Connection>)> on_taken_over);
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;
  HttpSession(HttpSession&&) = delete;
  HttpSession& operator=(HttpSession&&) = delete;
  ~HttpSession() override;

  void start();

  /// Closes an idle connection now; a request being answered gets its response first (with
  /// `Connection: close`).
  void stop() override;

  void close() override;

  /// Whether the connection is between requests (or still sending a request header).
  bool is_idle() const override { return state_ == State::waiting || state_ == State::reading_header; }

  bool is_closed() const override { return state_ == State::closed; }

 private:
  enum class State { waiting, reading_header, reading_body, answering, lingering, closed };

  void read_request();
  void wait_for_request();
  void read_header();
  void on_header(boost::beast::error_code error);
  void send_continue();
  void read_body();
  void on_read(boost::beast::error_code error);
  void answer(Response response);
  void refuse(const Refusal& refusal);
  void write(Response response, bool keep_alive);
  void on_write(boost::beast::error_code error);
  void linger();
  void discard_input();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  SessionContext& context_;
  std::function<void()> on_closed_;
  std::function<void(std::shared_ptr<Connection>)> on_taken_over_;
  Response response_;
  http::response<http::empty_body> continue_;
  State state_ = State::waiting;
  unsigned request_version_ = 11;
  bool request_keep_alive_ = false;
  bool request_is_head_ = false;
  std::string admitted_origin_;  ///< the request's Origin, once the origin policy admitted it
  bool stopping_ = false;
};

}  // namespace portpool_example
