#pragma once

// Repeated log lines, limited: a client that sends a bad request in a loop, or a burst of failed
// accepts, must not fill the disk. Each kind of event gets a few lines per interval; the rest are
// counted, and one summary line per event says how many were left out.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace portpool_example {

class LogRateLimiter {
 public:
  /// At most `lines_per_interval` lines per event in each `interval`; runs its summary timer on
  /// `executor` (the server's, single-threaded).
  LogRateLimiter(const boost::asio::any_io_executor& executor, std::chrono::milliseconds interval,
                 std::size_t lines_per_interval);

  /// Logs `event` (see log_event) unless its lines of this interval are used up.
  void log(std::string_view event, const nlohmann::ordered_json& fields);

  /// Writes the summaries of the current interval now, and cancels the timer (at shutdown).
  void flush();

 private:
  struct Count {
    std::size_t logged = 0;
    std::size_t suppressed = 0;
  };

  void start_interval_if_over();
  void summarize();

  boost::asio::steady_timer summary_timer_;
  std::chrono::milliseconds interval_;
  std::size_t lines_per_interval_;
  std::chrono::steady_clock::time_point interval_start_;
  std::map<std::string, Count, std::less<>> counts_;
  bool summary_pending_ = false;
};

}  // namespace portpool_example
