#pragma once

// A small HTTP/1.1 client for the tests of the example servers, on Boost.Beast: one keep-alive
// connection, every operation bounded by a timeout so that a misbehaving server fails a test
// instead of hanging it; and a raw connection for requests no well-behaved client would send.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace portpool::test {

namespace http = boost::beast::http;

/// Header fields to send: name and value, in order (a name may repeat).
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// A TCP connection to 127.0.0.1:port on its own io_context: each operation runs to its end before
/// the call returns, and fails once the time armed last (the timeout, from arm()) has passed.
class TimedStream {
 public:
  /// Connects within `timeout`. `who` names the user in error messages.
  TimedStream(std::uint16_t port, std::chrono::seconds timeout, const char* who)
      : stream_(io_), timeout_(timeout), who_(who) {
    arm();
    run([&](auto done) { stream_.async_connect({boost::asio::ip::address_v4::loopback(), port}, done); });
  }

  /// Starts the timeout again: the next operations must end within `limit` (the timeout by default).
  void arm() { stream_.expires_after(timeout_); }
  void arm(std::chrono::seconds limit) { stream_.expires_after(limit); }

  /// Starts one asynchronous operation with `start(handler)` and runs it to its end.
  /// @throws std::runtime_error naming the user when the operation failed.
  template <class Start>
  void run(Start start) {
    boost::beast::error_code failure = run_to_end(start);
    if (failure) {
      throw std::runtime_error(std::string(who_) + ": " + failure.message());
    }
  }

  /// The same, returning the failure instead of throwing it.
  template <class Start>
  boost::beast::error_code run_to_end(Start start) {
    boost::beast::error_code failure;
    start([&failure](boost::beast::error_code error, auto&&...) { failure = error; });
    io_.restart();
    io_.run();
    return failure;
  }

  boost::beast::tcp_stream& stream() { return stream_; }

 private:
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  std::chrono::seconds timeout_;
  const char* who_;
};

struct HttpReply {
  unsigned status = 0;
  std::string body;
  http::fields headers;

  nlohmann::json json() const { return nlohmann::json::parse(body); }
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::chrono::seconds timeout = std::chrono::seconds(20))
      : connection_(port, timeout, "HTTP client") {}

  /// Sends one request on the connection and reads the response. `Host: 127.0.0.1` unless
  /// `headers` sets another Host.
  /// @throws std::runtime_error on any failure (refused, closed, timed out, unreadable).
  HttpReply request(http::verb method, const std::string& target, const std::string& body = {},
                    const HeaderList& headers = {}) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) {
      request.set(name, value);
    }
    request.body() = body;
    request.prepare_payload();
    connection_.arm();
    connection_.run([&](auto done) { http::async_write(connection_.stream(), request, done); });
    http::response_parser<http::string_body> parser;
    connection_.run([&](auto done) { http::async_read(connection_.stream(), buffer_, parser, done); });
    auto& response = parser.get();
    HttpReply reply;
    reply.status = response.result_int();
    reply.headers = response.base();
    reply.body = std::move(response.body());
    return reply;
  }

  HttpReply get(const std::string& target) { return request(http::verb::get, target); }

 private:
  TimedStream connection_;
  boost::beast::flat_buffer buffer_;
};

/// A connection driven byte by byte: send part of a request, wait for what the server answers,
/// send the rest. Every wait is bounded.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port, std::chrono::seconds timeout = std::chrono::seconds(20))
      : connection_(port, timeout, "raw connection") {}

  void send(const std::string& bytes) {
    connection_.arm();
    connection_.run(
        [&](auto done) { boost::asio::async_write(connection_.stream(), boost::asio::buffer(bytes), done); });
  }

  /// Reads until what was received contains `text`, and returns everything received so far.
  /// @throws std::runtime_error when the connection closes or the timeout passes first.
  std::string read_until(const std::string& text) {
    connection_.arm();
    auto buffer = boost::asio::dynamic_buffer(received_);
    connection_.run([&](auto done) { boost::asio::async_read_until(connection_.stream(), buffer, text, done); });
    return received_;
  }

  /// Waits until the server closes the connection, for at most `limit`, and returns everything
  /// received; throws when it stays open that long.
  std::string read_until_closed(std::chrono::seconds limit) {
    connection_.arm(limit);
    auto buffer = boost::asio::dynamic_buffer(received_);
    auto failure =
        connection_.run_to_end([&](auto done) { boost::asio::async_read(connection_.stream(), buffer, done); });
    if (failure == boost::beast::error::timeout) {
      throw std::runtime_error("the server did not close the connection");
    }
    return received_;
  }

 private:
  TimedStream connection_;
  std::string received_;
};

/// GET `target` on a new connection.
inline HttpReply http_get(std::uint16_t port, const std::string& target) { return HttpClient(port).get(target); }

/// Sends `bytes` as they are, then reads everything the server sends until it closes the
/// connection: for requests no well-behaved client would send.
inline std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  boost::beast::error_code failure;
  stream.expires_after(std::chrono::seconds(20));
  stream.async_connect({boost::asio::ip::address_v4::loopback(), port}, [&](boost::beast::error_code error) {
    failure = error;
    if (error) {
      return;
    }
    boost::asio::async_write(stream, boost::asio::buffer(bytes), [&](boost::beast::error_code, std::size_t) {
      boost::beast::error_code ignored;
      stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    });
  });
  io.run();
  if (failure) {
    throw std::runtime_error("raw exchange: " + failure.message());
  }
  std::string received;
  auto buffer = boost::asio::dynamic_buffer(received);
  boost::asio::async_read(stream, buffer, [](boost::beast::error_code, std::size_t) {});
  io.restart();
  io.run();
  return received;
}

}  // namespace portpool::test
