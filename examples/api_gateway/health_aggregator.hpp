#pragma once

// Aggregated health: probes, concurrently and with a short timeout, every registered service that
// has a health endpoint, and reports each one as up or down with its latency.
//
// A holder that declares an HTTP health path in its description (protocol http or none) is probed
// on that path. A holder that declares none is probed on `GET /api/health` when its service is
// known to serve it: the gateway's own service (every gateway instance does) and those named with
// `--health-service`. The other holders are listed as not probed, rather than reported down for
// not answering a protocol they never spoke.

#include <portpool/holder.hpp>
#include <portpool/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace api_gateway {

/// Where holders of the services in HealthCheckSettings::services answer.
inline constexpr std::string_view default_health_path = "/api/health";

struct HealthCheckSettings {
  /// Services whose holders answer `GET /api/health` with 2xx when they are up (holders that
  /// declare their own health path are probed there, whatever their service).
  std::set<std::string> services;
  /// How long a probe may take, connection included, before the service counts as down.
  std::chrono::milliseconds timeout{500};
  /// Where holders listen (portpool binds them on its probe address, loopback by default).
  boost::asio::ip::address address;
};

class HealthAggregator {
 public:
  using Done = std::function<void(nlohmann::ordered_json)>;

  /// Probes run on `executor`; holders are read from the lock directory of `registry_options`.
  /// `own_port` marks the gateway's own entry as `"self": true`.
  HealthAggregator(boost::asio::any_io_executor executor, portpool::Options registry_options,
                   HealthCheckSettings settings, std::uint16_t own_port);

  /// Starts one probe per registered holder of a known service, all at once, and calls `done` with
  /// the report when the last one has answered or timed out.
  /// @throws portpool::Error when the lock directory cannot be read (before anything starts).
  void aggregate(Done done) const;

 private:
  nlohmann::ordered_json describe(const portpool::Holder& holder) const;
  std::optional<std::string> health_path(const portpool::Holder& holder) const;

  boost::asio::any_io_executor executor_;
  portpool::Options registry_options_;
  HealthCheckSettings settings_;
  std::uint16_t own_port_;
};

}  // namespace api_gateway
