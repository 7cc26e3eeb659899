#pragma once

// What a service built on the example HTTP server answers: one implementation per service.

#include "connection.hpp"
#include "http_message.hpp"

#include <boost/beast/core/tcp_stream.hpp>

#include <functional>
#include <memory>
#include <string>

namespace portpool_example {

class RequestHandler {
 public:
  RequestHandler() = default;
  RequestHandler(const RequestHandler&) = delete;
  RequestHandler& operator=(const RequestHandler&) = delete;
  RequestHandler(RequestHandler&&) = delete;
  RequestHandler& operator=(RequestHandler&&) = delete;
  virtual ~RequestHandler() = default;

  /// Answers `request` through `respond`, at once or later (from another completion).
  virtual void handle(const Request& request, Respond respond) = 0;

  /// The answer to a request refused before handle() sees it, with `status`: unreadable (400:
  /// malformed, over a size limit), not allowed by HTTP/1.1 (400, 417, 501), or addressed to a
  /// host or sent from an origin the server does not admit (403, see OriginPolicy). `reason`
  /// says what is wrong and what to do.
  virtual Response refuse(http::status status, const std::string& reason) = 0;

  /// Takes the connection of `request` for a long-lived stream (a WebSocket, server-sent events)
  /// instead of answering it: when it moved `stream` out, it returns the stream's connection, which
  /// the server goes on counting against its cap (and may close to make room), and the stream calls
  /// `on_closed` once, when it is gone. Null when it leaves the request to handle().
  virtual std::shared_ptr<Connection> take_over(const Request& /*request*/, boost::beast::tcp_stream& /*stream*/,
                                                const std::function<void()>& /*on_closed*/) {
    return nullptr;
  }

  /// The server is shutting down: end the connections take_over() took.
  virtual void shutdown() {}
};

}  // namespace portpool_example
