#include "http_server.hpp"

#include "structured_log.hpp"

#include <utility>
#include <vector>

namespace portpool_example {

namespace beast = boost::beast;

HttpServer::HttpServer(boost::asio::ip::tcp::acceptor& acceptor, RequestHandler& handler, std::string server_name,
                       SessionLimits limits)
    : acceptor_(acceptor),
      handler_(handler),
      server_name_(std::move(server_name)),
      limits_(limits),
      accept_retry_(acceptor.get_executor()),
      drain_deadline_(acceptor.get_executor()) {}

void HttpServer::start() { accept(); }

void HttpServer::accept() {
  acceptor_.async_accept([self = shared_from_this()](beast::error_code error, boost::asio::ip::tcp::socket socket) {
    self->on_accept(error, std::move(socket));
  });
}

void HttpServer::on_accept(beast::error_code error, boost::asio::ip::tcp::socket socket) {
  if (stopping_) {
    return;
  }
  if (error) {
    log_event("accept_failed", {{"error", error.message()}});
    return retry_accept_later();  // e.g. out of file descriptors: give clients time to leave
  }
  auto id = next_session_id_++;
  auto session = std::make_shared<HttpSession>(std::move(socket), handler_, server_name_, limits_,
                                               [self = shared_from_this(), id] { self->forget(id); });
  sessions_.emplace(id, session);
  session->start();
  accept();
}

void HttpServer::retry_accept_later() {
  accept_retry_.expires_after(std::chrono::milliseconds(100));
  accept_retry_.async_wait([self = shared_from_this()](beast::error_code error) {
    if (!error && !self->stopping_) {
      self->accept();
    }
  });
}

void HttpServer::shutdown(std::chrono::milliseconds grace) {
  stopping_ = true;
  beast::error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  handler_.shutdown();
  for (const auto& session : open_sessions()) {
    session->stop();
  }
  if (sessions_.empty()) {
    return;
  }
  drain_deadline_.expires_after(grace);
  drain_deadline_.async_wait([self = shared_from_this()](beast::error_code error) {
    if (!error) {
      self->close_all();
    }
  });
}

void HttpServer::forget(std::uint64_t session_id) {
  sessions_.erase(session_id);
  if (stopping_ && sessions_.empty()) {
    drain_deadline_.cancel();
  }
}

void HttpServer::close_all() {
  log_event("drain_timeout", {{"closed_connections", sessions_.size()}});
  for (const auto& session : open_sessions()) {
    session->close();
  }
}

// A copy, because a session that closes may end, and leave `sessions_`, during the caller's loop.
std::vector<std::shared_ptr<HttpSession>> HttpServer::open_sessions() const {
  std::vector<std::shared_ptr<HttpSession>> open;
  for (const auto& [id, session] : sessions_) {
    if (auto alive = session.lock()) {
      open.push_back(std::move(alive));
    }
  }
  return open;
}

}  // namespace portpool_example
