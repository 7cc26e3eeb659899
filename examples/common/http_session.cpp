#include "http_session.hpp"

#include <fmt/format.h>

#include <utility>

namespace portpool_example {

namespace beast = boost::beast;

namespace {

/// Errors that mean the client sent something that is not an acceptable HTTP request (as opposed
/// to a closed connection, a timeout or a shutdown).
bool is_bad_request(beast::error_code error) {
  return error.category() == make_error_code(http::error::bad_method).category() &&
         error != http::error::end_of_stream && error != http::error::partial_message;
}

std::string describe_bad_request(beast::error_code error, const SessionLimits& limits) {
  if (error == http::error::header_limit) {
    return fmt::format("the request header is larger than {} bytes", limits.header_bytes);
  }
  if (error == http::error::body_limit) {
    return fmt::format("the request body is larger than {} bytes", limits.body_bytes);
  }
  return fmt::format("malformed HTTP request: {}", error.message());
}

}  // namespace

HttpSession::HttpSession(boost::asio::ip::tcp::socket socket, RequestHandler& handler, std::string server_name,
                         SessionLimits limits, std::function<void()> on_closed)
    : stream_(std::move(socket)),
      handler_(handler),
      server_name_(std::move(server_name)),
      limits_(limits),
      on_closed_(std::move(on_closed)) {}

HttpSession::~HttpSession() { on_closed_(); }

void HttpSession::start() { read_request(); }

void HttpSession::stop() {
  stopping_ = true;
  if (!busy_) {
    close();
  }
}

void HttpSession::close() { stream_.close(); }

void HttpSession::read_request() {
  parser_.emplace();
  parser_->header_limit(limits_.header_bytes);
  parser_->body_limit(limits_.body_bytes);
  stream_.expires_after(limits_.read_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_read(error); });
}

void HttpSession::on_read(beast::error_code error) {
  if (is_bad_request(error)) {
    return reject(describe_bad_request(error, limits_));
  }
  if (error) {
    return close();
  }
  busy_ = true;
  auto request = parser_->release();
  if (!stopping_ && handler_.take_over(request, stream_)) {
    return;
  }
  request_version_ = request.version();
  request_keep_alive_ = request.keep_alive();
  handler_.handle(request, [self = shared_from_this()](Response response) { self->answer(std::move(response)); });
}

void HttpSession::answer(Response response) { write(std::move(response), request_keep_alive_ && !stopping_); }

void HttpSession::reject(const std::string& reason) {
  busy_ = true;
  write(handler_.reject_unreadable(reason), false);
}

void HttpSession::write(Response response, bool keep_alive) {
  response_ = std::move(response);
  response_.version(request_version_);
  response_.set(http::field::server, server_name_);
  response_.keep_alive(keep_alive);
  stream_.expires_after(limits_.write_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_write(error); });
}

void HttpSession::on_write(beast::error_code error) {
  busy_ = false;
  if (error) {
    return close();
  }
  if (stopping_) {
    return close();
  }
  if (!response_.keep_alive()) {
    return linger();
  }
  read_request();
}

// Closing a socket with unread input makes the kernel send a reset, which can destroy the response
// before the client reads it. So: stop sending, read and discard what the client still sends, for
// a short while, then close.
void HttpSession::linger() {
  beast::error_code ignored;
  stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
  buffer_.clear();
  stream_.expires_after(std::chrono::seconds(2));
  discard_input();
}

void HttpSession::discard_input() {
  stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code error, std::size_t) {
    if (error) {
      return self->close();
    }
    self->discard_input();
  });
}

}  // namespace portpool_example
