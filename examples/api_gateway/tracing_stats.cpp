#include "tracing_stats.hpp"

#include <algorithm>
#include <cmath>

namespace api_gateway {

void LatencyReservoir::add(double milliseconds) {
  ++seen_;
  max_ = std::max(max_, milliseconds);
  if (sample_.size() < capacity_) {
    sample_.push_back(milliseconds);
    return;
  }
  std::uniform_int_distribution<std::uint64_t> slot(0, seen_ - 1);
  if (auto index = slot(random_); index < capacity_) {
    sample_[static_cast<std::size_t>(index)] = milliseconds;
  }
}

double LatencyReservoir::quantile(double fraction) const {
  if (sample_.empty()) {
    return 0;
  }
  auto sorted = sample_;
  auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  auto index = std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(index), sorted.end());
  return sorted[index];
}

void TracingStats::record(const std::string& route, unsigned status, std::chrono::steady_clock::duration latency) {
  auto milliseconds = std::chrono::duration<double, std::milli>(latency).count();
  for (auto* stats : {&routes_[route], &total_}) {
    ++stats->requests;
    stats->errors += status >= 400 ? 1 : 0;
    ++stats->statuses[status];
    stats->latencies.add(milliseconds);
  }
}

nlohmann::ordered_json TracingStats::describe(const RouteStats& stats) {
  nlohmann::ordered_json statuses = nlohmann::ordered_json::object();
  for (const auto& [status, count] : stats.statuses) {
    statuses[std::to_string(status)] = count;
  }
  auto rounded = [](double milliseconds) { return std::round(milliseconds * 1000) / 1000; };
  return {{"requests", stats.requests},
          {"errors", stats.errors},
          {"statuses", statuses},
          {"latency_ms",
           {{"p50", rounded(stats.latencies.quantile(0.50))},
            {"p90", rounded(stats.latencies.quantile(0.90))},
            {"p99", rounded(stats.latencies.quantile(0.99))},
            {"max", rounded(stats.latencies.max())}}}};
}

nlohmann::ordered_json TracingStats::to_json() const {
  nlohmann::ordered_json routes = nlohmann::ordered_json::object();
  for (const auto& [route, stats] : routes_) {
    routes[route] = describe(stats);
  }
  auto uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return {{"uptime_seconds", std::round(uptime * 1000) / 1000}, {"total", describe(total_)}, {"routes", routes}};
}

}  // namespace api_gateway
