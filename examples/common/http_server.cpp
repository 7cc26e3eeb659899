#include "http_server.hpp"

#include "structured_log.hpp"

#include <utility>
#include <vector>

namespace portpool_example {

namespace beast = boost::beast;

namespace {

/// A client looping on bad requests, or a wave of failed accepts, gets this many log lines of each
/// kind per interval, then one summary line.
constexpr std::chrono::milliseconds log_interval{1000};
constexpr std::size_t log_lines_per_interval = 5;

}  // namespace

HttpServer::HttpServer(boost::asio::ip::tcp::acceptor& acceptor, RequestHandler& handler,
                       const HttpServerSettings& settings)
    : acceptor_(acceptor),
      origins_(acceptor.local_endpoint().port(), settings.allowed_origins),
      log_(acceptor.get_executor(), log_interval, log_lines_per_interval),
      context_{handler, origins_, log_, settings.server_name, settings.limits},
      max_connections_(settings.max_connections),
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
    log_.log("accept_failed", {{"error", error.message()}});
    return retry_accept_later();  // e.g. out of file descriptors: give clients time to leave
  }
  if (!make_room()) {
    log_.log("connection_refused",
             {{"reason", "every connection is busy answering a request"}, {"max_connections", max_connections_}});
    beast::error_code ignored;
    socket.close(ignored);
    return accept();
  }
  auto id = next_connection_id_++;
  auto session = std::make_shared<HttpSession>(
      std::move(socket), context_, [self = shared_from_this(), id] { self->forget(id); },
      [self = shared_from_this(), id](const std::shared_ptr<Connection>& stream) { self->taken_over(id, stream); });
  connections_.emplace(id, session);
  session->start();
  accept();
}

// Closing an idle connection takes effect when its pending operation completes, so `connections_`
// may still count it; a closed connection is no longer idle, and the next new one closes another.
bool HttpServer::make_room() {
  std::size_t open = 0;
  std::shared_ptr<Connection> longest_idle;
  for (const auto& [id, weak] : connections_) {
    auto connection = weak.lock();
    if (!connection || connection->is_closed()) {
      continue;
    }
    ++open;
    if (!longest_idle && connection->is_idle()) {
      longest_idle = std::move(connection);
    }
  }
  if (open < max_connections_) {
    return true;
  }
  if (!longest_idle) {
    return false;
  }
  longest_idle->close();
  return true;
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
  context_.handler.shutdown();
  log_.flush();
  for (const auto& connection : open_connections()) {
    connection->stop();
  }
  if (connections_.empty()) {
    return;
  }
  drain_deadline_.expires_after(grace);
  drain_deadline_.async_wait([self = shared_from_this()](beast::error_code error) {
    if (!error) {
      self->close_all();
    }
  });
}

void HttpServer::forget(std::uint64_t connection_id) {
  connections_.erase(connection_id);
  if (stopping_ && connections_.empty()) {
    drain_deadline_.cancel();
  }
}

void HttpServer::taken_over(std::uint64_t connection_id, const std::shared_ptr<Connection>& stream) {
  if (auto entry = connections_.find(connection_id); entry != connections_.end()) {
    entry->second = stream;
  }
}

void HttpServer::close_all() {
  log_event("drain_timeout", {{"closed_connections", connections_.size()}});
  for (const auto& connection : open_connections()) {
    connection->close();
  }
}

// A copy, because a connection that closes may end, and leave `connections_`, during the caller's loop.
std::vector<std::shared_ptr<Connection>> HttpServer::open_connections() const {
  std::vector<std::shared_ptr<Connection>> open;
  for (const auto& [id, connection] : connections_) {
    if (auto alive = connection.lock()) {
      open.push_back(std::move(alive));
    }
  }
  return open;
}

}  // namespace portpool_example
