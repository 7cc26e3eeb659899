#include "event_stream.hpp"

#include <portpool/holder_json.hpp>

#include "structured_log.hpp"

#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <deque>
#include <functional>
#include <utility>

namespace api_gateway {

namespace {

namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;

/// Asked of the kernel for each subscriber's socket (Linux doubles it for its bookkeeping): what a
/// subscriber that does not read holds in the kernel, and the first part of its bound.
constexpr int subscriber_send_buffer_bytes = 64 * 1024;
/// Messages, and their bytes, that may wait in the gateway once the send buffer is full: one more
/// drops the subscriber. The first message (the snapshot) is queued whatever its size.
constexpr std::size_t max_queued_messages = 1024;
constexpr std::size_t max_queued_bytes = std::size_t{1024} * 1024;
/// The longest message a WebSocket client may send. The stream needs none (it reads them only to
/// see the client close): room for a short note, not for a payload.
constexpr std::size_t max_client_message_bytes = 4096;

/// The queue of one subscriber: one write at a time, in order; ends the connection on the first
/// error, on a client that closed, or on a queue that outgrew its bound.
class StreamSubscriber : public EventSubscriber, public std::enable_shared_from_this<StreamSubscriber> {
 public:
  using Completion = std::function<void(beast::error_code)>;

  /// `on_ended` runs when the subscriber ends (closed, dropped, or its client left), `on_gone`
  /// when its connection is gone (nothing pending).
  StreamSubscriber(std::function<void()> on_ended, std::function<void()> on_gone)
      : on_ended_(std::move(on_ended)), on_gone_(std::move(on_gone)) {}

  StreamSubscriber(const StreamSubscriber&) = delete;
  StreamSubscriber& operator=(const StreamSubscriber&) = delete;
  StreamSubscriber(StreamSubscriber&&) = delete;
  StreamSubscriber& operator=(StreamSubscriber&&) = delete;
  ~StreamSubscriber() override { on_gone_(); }

  void send(std::shared_ptr<const std::string> message) override {
    if (closed_) {
      return;
    }
    if (!queue_.empty() &&
        (queue_.size() >= max_queued_messages || queued_bytes_ + message->size() > max_queued_bytes)) {
      return drop();
    }
    queued_bytes_ += message->size();
    queue_.push_back(std::move(message));
    if (!writing_) {
      write_next();
    }
  }

  void close() override { end(); }
  void stop() override { end(); }
  /// A stream answers no request: closing it loses nothing the client cannot have again by
  /// subscribing anew (the snapshot).
  bool is_idle() const override { return true; }
  bool is_closed() const override { return closed_; }

 protected:
  /// Begins sending: messages queued so far (the snapshot) go out now.
  void begin() {
    writing_ = false;
    write_next();
    watch_for_close();
  }

  void end() {
    if (std::exchange(closed_, true)) {
      return;
    }
    close_transport();
    on_ended_();
  }

  /// Prepares `socket` for the stream: the send buffer of a subscriber.
  static void limit_send_buffer(boost::asio::ip::tcp::socket& socket) {
    beast::error_code ignored;
    socket.set_option(boost::asio::socket_base::send_buffer_size(subscriber_send_buffer_bytes), ignored);
  }

  bool writing_ = true;  // until begin(): nothing is written before the handshake

 private:
  virtual void write_message(const std::string& message, Completion done) = 0;
  /// Reads (and discards) what the client sends, and calls end() when it closes.
  virtual void watch_for_close() = 0;
  virtual void close_transport() = 0;
  virtual boost::asio::ip::tcp::socket& socket() = 0;

  // The client does not read: what waits for it is dropped with the connection (a reset, which
  // frees the kernel's buffers now and tells the client at once, rather than a close that would
  // wait behind data the client does not take).
  void drop() {
    portpool_example::log_event("subscriber_dropped", {{"reason", "the client does not read the events sent to it"},
                                                       {"queued_messages", queue_.size()},
                                                       {"queued_bytes", queued_bytes_}});
    beast::error_code ignored;
    socket().set_option(boost::asio::socket_base::linger(true, 0), ignored);
    end();
  }

  void write_next() {
    if (queue_.empty() || closed_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    write_message(*queue_.front(), [self = shared_from_this()](beast::error_code error) {
      if (error) {
        return self->end();
      }
      self->queued_bytes_ -= self->queue_.front()->size();
      self->queue_.pop_front();
      self->write_next();
    });
  }

  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  std::function<void()> on_ended_;
  std::function<void()> on_gone_;
  bool closed_ = false;
};

class WebSocketSubscriber final : public StreamSubscriber {
 public:
  WebSocketSubscriber(beast::tcp_stream stream, std::function<void()> on_ended, std::function<void()> on_gone)
      : StreamSubscriber(std::move(on_ended), std::move(on_gone)), socket_(std::move(stream)) {
    beast::get_lowest_layer(socket_).expires_never();  // the WebSocket's own timeouts take over
    socket_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    // Checked on each frame header: a longer message is refused (close 1009) before its payload is read.
    socket_.read_message_max(max_client_message_bytes);
    socket_.text(true);
    limit_send_buffer(beast::get_lowest_layer(socket_).socket());
  }

  void accept(const portpool_example::Request& request) {
    socket_.async_accept(request, [self = shared_from_this(), this](beast::error_code error) {
      if (error) {
        return end();
      }
      begin();
    });
  }

 private:
  void write_message(const std::string& message, Completion done) override {
    socket_.async_write(boost::asio::buffer(message),
                        [done = std::move(done)](beast::error_code error, std::size_t) { done(error); });
  }

  void watch_for_close() override {
    socket_.async_read(incoming_, [self = shared_from_this(), this](beast::error_code error, std::size_t) {
      if (error) {
        return end();
      }
      incoming_.clear();
      watch_for_close();
    });
  }

  void close_transport() override {
    beast::error_code ignored;
    beast::get_lowest_layer(socket_).socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(socket_).close();
  }

  boost::asio::ip::tcp::socket& socket() override { return beast::get_lowest_layer(socket_).socket(); }

  websocket::stream<beast::tcp_stream> socket_;
  beast::flat_buffer incoming_;
};

class ServerSentEventsSubscriber final : public StreamSubscriber {
 public:
  ServerSentEventsSubscriber(beast::tcp_stream stream, std::function<void()> on_ended, std::function<void()> on_gone)
      : StreamSubscriber(std::move(on_ended), std::move(on_gone)), stream_(std::move(stream)) {
    stream_.expires_never();
    limit_send_buffer(stream_.socket());
  }

  void answer(const std::string& server_name) {
    header_ = fmt::format(
        "HTTP/1.1 200 OK\r\nServer: {}\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        server_name);
    boost::asio::async_write(stream_, boost::asio::buffer(header_),
                             [self = shared_from_this(), this](beast::error_code error, std::size_t) {
                               if (error) {
                                 return end();
                               }
                               begin();
                             });
  }

 private:
  void write_message(const std::string& message, Completion done) override {
    frame_ = "data: " + message + "\n\n";  // the JSON has no newline: one data line per event
    boost::asio::async_write(stream_, boost::asio::buffer(frame_),
                             [done = std::move(done)](beast::error_code error, std::size_t) { done(error); });
  }

  void watch_for_close() override {
    stream_.async_read_some(boost::asio::buffer(incoming_),
                            [self = shared_from_this(), this](beast::error_code error, std::size_t) {
                              if (error) {
                                return end();
                              }
                              watch_for_close();
                            });
  }

  void close_transport() override {
    beast::error_code ignored;
    stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  boost::asio::ip::tcp::socket& socket() override { return stream_.socket(); }

  beast::tcp_stream stream_;
  std::string header_;
  std::string frame_;
  std::array<char, 512> incoming_{};
};

// A record may hold bytes that are not UTF-8: replaced (U+FFFD), where a plain dump() would throw.
std::shared_ptr<const std::string> shared_text(const nlohmann::ordered_json& message) {
  return std::make_shared<const std::string>(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

EventHub::EventHub(const boost::asio::any_io_executor& executor, const portpool::Options& registry_options,
                   HealthAggregator health, std::chrono::milliseconds health_interval)
    : watcher_(registry_options),
      changes_(executor),
      health_(std::move(health)),
      health_interval_(health_interval),
      health_timer_(executor) {
  changes_.assign(watcher_.descriptor());  // the watcher's own: given back by stop_watching()
}

EventHub::~EventHub() { stop_watching(); }

void EventHub::stop_watching() noexcept {
  if (changes_.is_open()) {
    changes_.release();  // cancels the wait; the watcher closes its descriptor
  }
}

void EventHub::start() { wait_for_changes(); }

void EventHub::wait_for_changes() {
  changes_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [self = shared_from_this()](beast::error_code error) {
                        if (!error && !self->stopped_) {
                          self->read_changes();
                          self->wait_for_changes();
                        }
                      });
}

void EventHub::read_changes() {
  for (const auto& change : watcher_.read_changes()) {
    if (change.kind != portpool::RegistryChange::Kind::acquired) {
      health_by_port_.erase(change.holder.port);
    }
    broadcast(portpool::change_json(change));
  }
}

std::shared_ptr<const std::string> EventHub::snapshot() const {
  auto message = portpool::snapshot_json(watcher_.holders());
  auto health = nlohmann::ordered_json::object();
  for (const auto& [port, status] : health_by_port_) {
    health[std::to_string(port)] = status;
  }
  message["health"] = health;
  return shared_text(message);
}

std::function<void()> EventHub::unsubscriber(std::uint64_t id) {
  return [weak = weak_from_this(), id] {
    if (auto hub = weak.lock()) {
      hub->unsubscribe(id);
    }
  };
}

std::shared_ptr<portpool_example::Connection> EventHub::add_websocket(beast::tcp_stream stream,
                                                                      const portpool_example::Request& request,
                                                                      std::function<void()> on_closed) {
  auto id = next_id_++;
  auto subscriber = std::make_shared<WebSocketSubscriber>(std::move(stream), unsubscriber(id), std::move(on_closed));
  subscribe(id, subscriber);
  subscriber->accept(request);
  return subscriber;
}

std::shared_ptr<portpool_example::Connection> EventHub::add_event_stream(beast::tcp_stream stream,
                                                                         const portpool_example::Request& /*request*/,
                                                                         const std::string& server_name,
                                                                         std::function<void()> on_closed) {
  auto id = next_id_++;
  auto subscriber =
      std::make_shared<ServerSentEventsSubscriber>(std::move(stream), unsubscriber(id), std::move(on_closed));
  subscribe(id, subscriber);
  subscriber->answer(server_name);
  return subscriber;
}

// The snapshot is queued before the handshake completes, so no change can come before it.
void EventHub::subscribe(std::uint64_t id, const std::shared_ptr<EventSubscriber>& subscriber) {
  subscribers_.emplace(id, subscriber);
  subscriber->send(snapshot());
  if (subscribers_.size() == 1) {
    schedule_health_check();
  }
}

void EventHub::unsubscribe(std::uint64_t id) {
  subscribers_.erase(id);
  if (subscribers_.empty()) {
    health_timer_.cancel();
  }
}

void EventHub::broadcast(const nlohmann::ordered_json& message) {
  auto text = shared_text(message);
  auto subscribers = subscribers_;  // a subscriber that fails leaves the map during the loop
  for (const auto& [id, subscriber] : subscribers) {
    subscriber->send(text);
  }
}

void EventHub::schedule_health_check() {
  if (stopped_ || checking_health_) {
    return;
  }
  checking_health_ = true;
  check_health();
}

void EventHub::check_health() {
  try {
    health_.aggregate([self = shared_from_this()](const nlohmann::ordered_json& report) {
      self->report_health(report);
      self->health_timer_.expires_after(self->health_interval_);
      self->health_timer_.async_wait([self](beast::error_code error) {
        if (!error && !self->stopped_ && !self->subscribers_.empty()) {
          return self->check_health();
        }
        self->checking_health_ = false;
      });
    });
  } catch (const std::exception&) {
    checking_health_ = false;  // the lock directory cannot be read now; the next subscriber retries
  }
}

void EventHub::report_health(const nlohmann::ordered_json& report) {
  for (const auto& entry : report.at("services")) {
    auto port = entry.at("port").get<std::uint16_t>();
    auto status = entry.at("status").get<std::string>();
    auto [known, added] = health_by_port_.try_emplace(port, status);
    if (!added && known->second == status) {
      continue;
    }
    known->second = status;
    broadcast({{"type", "health"},
               {"time", portpool::iso8601_utc(std::chrono::system_clock::now())},
               {"port", port},
               {"service", entry.at("service")},
               {"status", status},
               {"detail", entry.at("detail")}});
  }
}

void EventHub::stop() {
  stopped_ = true;
  stop_watching();
  health_timer_.cancel();
  auto subscribers = std::exchange(subscribers_, {});
  for (const auto& [id, subscriber] : subscribers) {
    subscriber->close();
  }
}

}  // namespace api_gateway
