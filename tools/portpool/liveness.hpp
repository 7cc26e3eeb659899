#pragma once

// `run --liveness`: checking, every interval, that the service on the held port still answers
// (an HTTP GET, or a connection), on the supervisor's context, without blocking it; and saying
// when it has stopped answering, so that CMD is restarted.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace portpool::cli {

/// The metadata key of the holder record where the outcome of the last check is shown.
inline constexpr const char* liveness_metadata_key = "liveness";

struct LivenessSettings {
  enum class Kind { http, tcp };
  Kind kind = Kind::tcp;
  std::string path;  ///< http: the path of the GET
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds start_period{30000};
  int failures = 3;
  bool ipv4_only = false;  ///< --socket: portpool listens on 127.0.0.1 itself
};

/// The settings of `--liveness CHECK` and its companions (`interval`, `start_period` and `failures`
/// empty when not given).
/// @throws UsageError naming the option when a value is malformed, or a companion is given
/// without --liveness.
std::optional<LivenessSettings> liveness_settings(const std::string& check, const std::string& interval,
                                                  const std::string& start_period, const std::string& failures,
                                                  bool socket);

/// Checks the service on `port` every interval while a copy of CMD runs. Failures are counted once
/// a check of this copy has succeeded or the start period has passed since it started; after
/// `failures` in a row, `on_unresponsive` gets the reason and checking stops until watch(). Every
/// change of the outcome goes to `on_outcome`: "starting", "starting (last check: REASON)", "ok",
/// "failed K of N: REASON". Both are called on `context`, the supervisor's.
class LivenessMonitor {
 public:
  LivenessMonitor(boost::asio::io_context& context, std::uint16_t port, LivenessSettings settings,
                  std::function<void(const std::string&)> on_outcome,
                  std::function<void(const std::string&)> on_unresponsive);
  LivenessMonitor(const LivenessMonitor&) = delete;
  LivenessMonitor& operator=(const LivenessMonitor&) = delete;
  LivenessMonitor(LivenessMonitor&&) = delete;
  LivenessMonitor& operator=(LivenessMonitor&&) = delete;
  ~LivenessMonitor() = default;

  /// A copy of CMD has just started: its start period begins, and its checks.
  void watch();

  /// No copy runs: no more checks until watch().
  void stop();

 private:
  struct Check;

  void schedule(std::chrono::steady_clock::time_point when);
  void begin_check();
  void connect(const std::shared_ptr<Check>& check, const boost::asio::ip::address& address);
  void send_request(const std::shared_ptr<Check>& check);
  void read_status_line(const std::shared_ptr<Check>& check);
  void finish(const std::shared_ptr<Check>& check, std::optional<std::string> failure);
  void record(const std::string& outcome);

  boost::asio::io_context& context_;
  std::uint16_t port_;
  LivenessSettings settings_;
  std::function<void(const std::string&)> on_outcome_;
  std::function<void(const std::string&)> on_unresponsive_;
  boost::asio::steady_timer next_check_;
  std::shared_ptr<Check> current_;
  std::chrono::steady_clock::time_point copy_started_;
  bool watching_ = false;
  bool answered_ = false;  ///< a check of the current copy succeeded
  int failures_ = 0;
  std::string outcome_;
};

}  // namespace portpool::cli
