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
// A subscriber that reads too slowly is dropped rather than let its queue grow without bound.

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
#include <map>
#include <memory>
#include <string>

namespace api_gateway {

/// One connection that receives the event messages.
class EventSubscriber {
 public:
  EventSubscriber() = default;
  EventSubscriber(const EventSubscriber&) = delete;
  EventSubscriber& operator=(const EventSubscriber&) = delete;
  EventSubscriber(EventSubscriber&&) = delete;
  EventSubscriber& operator=(EventSubscriber&&) = delete;
  virtual ~EventSubscriber() = default;

  /// Queues one message (a JSON text) to be sent after the ones before it.
  virtual void send(std::shared_ptr<const std::string> message) = 0;
  /// Ends the connection.
  virtual void close() = 0;
};

class EventHub : public std::enable_shared_from_this<EventHub> {
 public:
  /// Watches the lock directory of `registry_options`; probes health with `health` every
  /// `health_interval` while someone subscribes.
  /// @throws portpool::LockDirError, portpool::ResourceError as RegistryWatcher.
  EventHub(const boost::asio::any_io_executor& executor, const portpool::Options& registry_options,
           HealthAggregator health, std::chrono::milliseconds health_interval);

  void start();

  /// Upgrades `request` (a WebSocket handshake) on `stream` and subscribes it.
  void add_websocket(boost::beast::tcp_stream stream, const portpool_example::Request& request);

  /// Answers `request` with an event stream on `stream` and subscribes it.
  void add_event_stream(boost::beast::tcp_stream stream, const portpool_example::Request& request,
                        const std::string& server_name);

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
  void subscribe(const std::shared_ptr<EventSubscriber>& subscriber);
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
