#pragma once

// What a service built on the example HTTP server answers: one implementation per service.

#include "http_message.hpp"

#include <boost/beast/core/tcp_stream.hpp>

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
  /// instead of answering it: true when it moved `stream` out, and the session then ends.
  virtual bool take_over(const Request& /*request*/, boost::beast::tcp_stream& /*stream*/) { return false; }

  /// The server is shutting down: end the connections take_over() took.
  virtual void shutdown() {}
};

}  // namespace portpool_example
