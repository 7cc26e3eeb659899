#pragma once

// The gateway's own request tracing: per route, how many requests, how many errors, and latency
// percentiles, since the gateway started. Memory stays bounded however long it runs.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace api_gateway {

/// A uniform random sample of at most `capacity` latencies out of all those recorded (reservoir
/// sampling), so percentiles describe the whole run in constant memory. Exact while fewer than
/// `capacity` were recorded.
class LatencyReservoir {
 public:
  explicit LatencyReservoir(std::size_t capacity = 2048) : capacity_(capacity) {}

  void add(double milliseconds);

  /// The `fraction` quantile (0.5 for the median) of the sample; 0 when empty.
  double quantile(double fraction) const;

  double max() const noexcept { return max_; }

 private:
  std::size_t capacity_;
  std::uint64_t seen_ = 0;
  double max_ = 0;
  std::vector<double> sample_;
  std::mt19937_64 random_{std::random_device{}()};
};

/// Counts per route. Not thread-safe: the gateway runs its handlers on one thread.
class TracingStats {
 public:
  /// Records one request on `route` answered with `status` after `latency`. Status 400 and above
  /// counts as an error.
  void record(const std::string& route, unsigned status, std::chrono::steady_clock::duration latency);

  /// `{"uptime_seconds":..., "total": {...}, "routes": {route: {requests, errors, latency_ms}}}`.
  nlohmann::ordered_json to_json() const;

 private:
  struct RouteStats {
    std::uint64_t requests = 0;
    std::uint64_t errors = 0;
    std::map<unsigned, std::uint64_t> statuses;
    LatencyReservoir latencies;
  };

  static nlohmann::ordered_json describe(const RouteStats& stats);

  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::map<std::string, RouteStats> routes_;
  RouteStats total_;
};

}  // namespace api_gateway
