#include "event_stream.hpp"

#include <portpool/holder_json.hpp>

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

/// Messages a subscriber may have waiting before it counts as too slow and is dropped.
constexpr std::size_t max_queued_messages = 1024;

/// The queue of one subscriber: one write at a time, in order; ends the connection on the first
/// error, on a client that closed, or on a queue that outgrew its bound.
class StreamSubscriber : public EventSubscriber, public std::enable_shared_from_this<StreamSubscriber> {
 public:
  using Completion = std::function<void(beast::error_code)>;

  explicit StreamSubscriber(std::function<void()> on_closed) : on_closed_(std::move(on_closed)) {}

  void send(std::shared_ptr<const std::string> message) override {
    if (closed_) {
      return;
    }
    if (queue_.size() >= max_queued_messages) {
      return end();
    }
    queue_.push_back(std::move(message));
    if (!writing_) {
      write_next();
    }
  }

  void close() override { end(); }

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
    on_closed_();
  }

  bool writing_ = true;  // until begin(): nothing is written before the handshake

 private:
  virtual void write_message(const std::string& message, Completion done) = 0;
  /// Reads (and discards) what the client sends, and calls end() when it closes.
  virtual void watch_for_close() = 0;
  virtual void close_transport() = 0;

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
      self->queue_.pop_front();
      self->write_next();
    });
  }

  std::deque<std::shared_ptr<const std::string>> queue_;
  std::function<void()> on_closed_;
  bool closed_ = false;
};

class WebSocketSubscriber final : public StreamSubscriber {
 public:
  WebSocketSubscriber(beast::tcp_stream stream, std::function<void()> on_closed)
      : StreamSubscriber(std::move(on_closed)), socket_(std::move(stream)) {
    beast::get_lowest_layer(socket_).expires_never();  // the WebSocket's own timeouts take over
    socket_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    socket_.text(true);
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

  websocket::stream<beast::tcp_stream> socket_;
  beast::flat_buffer incoming_;
};

class ServerSentEventsSubscriber final : public StreamSubscriber {
 public:
  ServerSentEventsSubscriber(beast::tcp_stream stream, std::function<void()> on_closed)
      : StreamSubscriber(std::move(on_closed)), stream_(std::move(stream)) {
    stream_.expires_never();
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

  beast::tcp_stream stream_;
  std::string header_;
  std::string frame_;
  std::array<char, 512> incoming_{};
};

std::shared_ptr<const std::string> shared_text(const nlohmann::ordered_json& message) {
  return std::make_shared<const std::string>(message.dump());
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

void EventHub::add_websocket(beast::tcp_stream stream, const portpool_example::Request& request) {
  auto id = next_id_++;
  auto subscriber = std::make_shared<WebSocketSubscriber>(std::move(stream), [weak = weak_from_this(), id] {
    if (auto hub = weak.lock()) {
      hub->unsubscribe(id);
    }
  });
  subscribers_.emplace(id, subscriber);
  subscribe(subscriber);
  subscriber->accept(request);
}

void EventHub::add_event_stream(beast::tcp_stream stream, const portpool_example::Request& /*request*/,
                                const std::string& server_name) {
  auto id = next_id_++;
  auto subscriber = std::make_shared<ServerSentEventsSubscriber>(std::move(stream), [weak = weak_from_this(), id] {
    if (auto hub = weak.lock()) {
      hub->unsubscribe(id);
    }
  });
  subscribers_.emplace(id, subscriber);
  subscribe(subscriber);
  subscriber->answer(server_name);
}

// The snapshot is queued before the handshake completes, so no change can come before it.
void EventHub::subscribe(const std::shared_ptr<EventSubscriber>& subscriber) {
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
