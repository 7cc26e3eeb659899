#include "log_rate_limiter.hpp"

#include "structured_log.hpp"

namespace portpool_example {

LogRateLimiter::LogRateLimiter(const boost::asio::any_io_executor& executor, std::chrono::milliseconds interval,
                               std::size_t lines_per_interval)
    : summary_timer_(executor),
      interval_(interval),
      lines_per_interval_(lines_per_interval),
      interval_start_(std::chrono::steady_clock::now()) {}

void LogRateLimiter::log(std::string_view event, const nlohmann::ordered_json& fields) {
  start_interval_if_over();
  auto count = counts_.find(event);
  if (count == counts_.end()) {
    count = counts_.emplace(std::string(event), Count{}).first;
  }
  if (count->second.logged < lines_per_interval_) {
    ++count->second.logged;
    return log_event(event, fields);
  }
  ++count->second.suppressed;
  if (summary_pending_) {
    return;
  }
  // The summary comes at the end of the interval even when no further line does.
  summary_pending_ = true;
  summary_timer_.expires_at(interval_start_ + interval_);
  summary_timer_.async_wait([this](boost::system::error_code error) {
    if (!error) {
      summarize();
    }
  });
}

void LogRateLimiter::flush() {
  summary_timer_.cancel();
  summarize();
}

void LogRateLimiter::start_interval_if_over() {
  auto now = std::chrono::steady_clock::now();
  if (now - interval_start_ < interval_) {
    return;
  }
  summarize();
  interval_start_ = now;
}

void LogRateLimiter::summarize() {
  for (const auto& [event, count] : counts_) {
    if (count.suppressed != 0) {
      log_event("log_suppressed",
                {{"suppressed_event", event}, {"count", count.suppressed}, {"interval_ms", interval_.count()}});
    }
  }
  counts_.clear();
  summary_pending_ = false;
}

}  // namespace portpool_example
