#include "http_session.hpp"

#include "cross_origin.hpp"
#include "http_conformance.hpp"

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
  if (error == http::error::bad_transfer_encoding || error == http::error::bad_content_length) {
    return "malformed HTTP request: conflicting or repeated Transfer-Encoding and Content-Length headers; send "
           "exactly one of them";
  }
  return fmt::format("malformed HTTP request: {}", error.message());
}

}  // namespace

HttpSession::HttpSession(boost::asio::ip::tcp::socket socket, SessionContext& context, std::function<void()> on_closed,
                         std::function<void(std::shared_ptr<Connection>)> on_taken_over)
    : stream_(std::move(socket)),
      context_(context),
      on_closed_(std::move(on_closed)),
      on_taken_over_(std::move(on_taken_over)) {}

HttpSession::~HttpSession() {
  if (on_closed_) {
    on_closed_();
  }
}

void HttpSession::start() { read_request(); }

void HttpSession::stop() {
  stopping_ = true;
  if (state_ != State::answering) {
    close();
  }
}

void HttpSession::close() {
  state_ = State::closed;
  stream_.close();
}

void HttpSession::read_request() {
  parser_.emplace();
  parser_->header_limit(context_.limits.header_bytes);
  parser_->body_limit(context_.limits.body_bytes);
  if (buffer_.size() == 0) {
    return wait_for_request();
  }
  read_header();  // a pipelined request is already here
}

// Waiting for a request and receiving its header have separate deadlines: a keep-alive connection
// may rest for the idle timeout, but a header that has begun must arrive within the header timeout.
void HttpSession::wait_for_request() {
  state_ = State::waiting;
  stream_.expires_after(context_.limits.idle_timeout);
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](beast::error_code error, std::size_t size) {
                            if (error) {
                              return self->close();
                            }
                            self->buffer_.commit(size);
                            self->read_header();
                          });
}

void HttpSession::read_header() {
  state_ = State::reading_header;
  stream_.expires_after(context_.limits.header_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_header(error); });
}

void HttpSession::on_header(beast::error_code error) {
  if (is_bad_request(error)) {
    return refuse({http::status::bad_request, describe_bad_request(error, context_.limits)});
  }
  if (error) {
    return close();
  }
  const auto& header = parser_->get().base();
  request_version_ = header.version();
  request_is_head_ = header.method() == http::verb::head;
  admitted_origin_.clear();
  if (auto refusal = nonconforming(header)) {
    return refuse(*refusal);
  }
  if (auto reason = context_.origins.refusal(header)) {
    return refuse({http::status::forbidden, *reason});
  }
  auto origin = header[http::field::origin];
  admitted_origin_.assign(origin.data(), origin.size());
  if (expects_continue(header) && header.version() >= 11 && !parser_->is_done()) {
    return send_continue();
  }
  read_body();
}

void HttpSession::send_continue() {
  continue_ = {http::status::continue_, 11};
  stream_.expires_after(context_.limits.write_timeout);
  http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code error, std::size_t) {
    if (error) {
      return self->close();
    }
    self->read_body();
  });
}

void HttpSession::read_body() {
  state_ = State::reading_body;
  stream_.expires_after(context_.limits.body_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_read(error); });
}

void HttpSession::on_read(beast::error_code error) {
  if (is_bad_request(error)) {
    return refuse({http::status::bad_request, describe_bad_request(error, context_.limits)});
  }
  if (error) {
    return close();
  }
  state_ = State::answering;
  auto request = parser_->release();
  if (is_preflight(request)) {
    request_keep_alive_ = request.keep_alive();
    return answer(preflight_response(admitted_origin_));
  }
  if (!stopping_) {
    if (auto stream = context_.handler.take_over(request, stream_, on_closed_)) {
      on_closed_ = nullptr;  // the stream that took the connection over reports its end
      on_taken_over_(std::move(stream));
      return;
    }
  }
  request_keep_alive_ = request.keep_alive();
  if (request_is_head_) {
    request.method(http::verb::get);  // HEAD is GET without the body (write() leaves it out)
  }
  context_.handler.handle(request,
                          [self = shared_from_this()](Response response) { self->answer(std::move(response)); });
}

void HttpSession::answer(Response response) { write(std::move(response), request_keep_alive_ && !stopping_); }

// A refused request closes the connection: what follows its header cannot be trusted to be the
// start of the next request.
void HttpSession::refuse(const Refusal& refusal) {
  context_.log.log("request_refused", {{"status", static_cast<unsigned>(refusal.status)}, {"reason", refusal.reason}});
  state_ = State::answering;
  write(context_.handler.refuse(refusal.status, refusal.reason), false);
}

void HttpSession::write(Response response, bool keep_alive) {
  response_ = std::move(response);
  response_.version(request_version_);
  response_.set(http::field::server, context_.server_name);
  response_.keep_alive(keep_alive);
  if (!admitted_origin_.empty()) {
    allow_origin(response_.base(), admitted_origin_);
  }
  if (request_is_head_) {
    auto length = response_.body().size();
    response_.body().clear();
    response_.content_length(length);
  }
  stream_.expires_after(context_.limits.write_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this()](beast::error_code error, std::size_t) { self->on_write(error); });
}

void HttpSession::on_write(beast::error_code error) {
  if (error || stopping_) {
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
  state_ = State::lingering;
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
