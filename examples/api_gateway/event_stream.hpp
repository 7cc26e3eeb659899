#pragma once

// GET /api/events: the registry as it changes, to every subscriber at once, over a WebSocket or as
// server-sent events (text/event-stream) for clients that do not speak WebSocket.
//
// Every subscriber first gets a snapshot of the current holders, then one message per change, in
// the order the changes were seen (see portpool/holder_json.hpp for the messages). Changes come
// from a RegistryWatcher (inotify on the lock directory), read on the gateway's executor as soon
// as its descriptor is readable: nothing polls the registry. Health changes come from the health
// aggregator, run periodically while someone subscribes.
//
// Limits, so that subscribers cannot take more than their share (docs/api_gateway.md): every
// subscriber counts against the server's connection cap, and is closed first to make room; a
// WebSocket client's messages may be at most 4 KiB (a longer one, even one announced by a frame
// header only, closes the connection with 1009); a subscriber that does not read is dropped once
// its kernel send buffer (64 KiB asked) is full and 1,024 messages or 1 MiB wait besides.

#include "connection.hpp"
#include "health_aggregator.hpp"
#include "http_message.hpp"

#include <portpool/options.hpp>
#include <portpool/registry_watcher.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace api_gateway {

/// One connection that receives the event messages. Closing it (Connection::close) ends it.
class EventSubscriber : public portpool_example::Connection {
 public:
  /// Queues one message (a JSON text) to be sent after the ones before it.
  virtual void send(std::shared_ptr<const std::string> message) = 0;
};

class EventHub : public std::enable_shared_from_this<EventHub> {
 public:
  /// Watches the lock directory of `registry_options`; probes health with `health` every
  /// `health_interval` while someone subscribes.
  /// @throws portpool::LockDirError, portpool::ResourceError as RegistryWatcher.
  EventHub(const boost::asio::any_io_executor& executor, const portpool::Options& registry_options,
           HealthAggregator health, std::chrono::milliseconds health_interval);

  void start();

  /// Upgrades `request` (a WebSocket handshake) on `stream` and subscribes it; `on_closed` runs
  /// when the subscriber's connection is gone. Returns it, for the server to count and close.
  std::shared_ptr<portpool_example::Connection> add_websocket(boost::beast::tcp_stream stream,
                                                              const portpool_example::Request& request,
                                                              std::function<void()> on_closed);

  /// Answers `request` with an event stream on `stream` and subscribes it, as add_websocket.
  std::shared_ptr<portpool_example::Connection> add_event_stream(boost::beast::tcp_stream stream,
                                                                 const portpool_example::Request& request,
                                                                 const std::string& server_name,
                                                                 std::function<void()> on_closed);

  /// Closes every subscriber and stops watching: the hub's work on the executor ends.
  void stop();

  ~EventHub();
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;
  EventHub(EventHub&&) = delete;
  EventHub& operator=(EventHub&&) = delete;

 private:
  void wait_for_changes();
  void stop_watching() noexcept;
  void read_changes();
  std::function<void()> unsubscriber(std::uint64_t id);
  void subscribe(std::uint64_t id, const std::shared_ptr<EventSubscriber>& subscriber);
  void unsubscribe(std::uint64_t id);
  void broadcast(const nlohmann::ordered_json& message);
  void schedule_health_check();
  void check_health();
  void report_health(const nlohmann::ordered_json& report);
  std::shared_ptr<const std::string> snapshot() const;

  portpool::RegistryWatcher watcher_;
  boost::asio::posix::stream_descriptor changes_;
  HealthAggregator health_;
  std::chrono::milliseconds health_interval_;
  boost::asio::steady_timer health_timer_;
  std::map<std::uint16_t, std::string> health_by_port_;
  std::map<std::uint64_t, std::shared_ptr<EventSubscriber>> subscribers_;
  std::uint64_t next_id_ = 0;
  bool checking_health_ = false;
  bool stopped_ = false;
};

}  // namespace api_gateway
