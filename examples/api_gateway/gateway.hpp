#pragma once

// The gateway as a service started through portpool (examples/common/service_runner.hpp): its
// settings, and the routes it serves once it has its port.

#include "service_runner.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace api_gateway {

struct GatewaySettings {
  portpool_example::ServiceSettings service = default_service_settings();
  /// Other services whose holders serve GET /api/health, for /api/health/aggregated.
  std::vector<std::string> health_services;
  /// How often /api/events subscribers get the holders' health checked (health messages).
  std::chrono::milliseconds health_interval{2000};

  /// The api-server service (9000-9002 in the built-in example table).
  static portpool_example::ServiceSettings default_service_settings();
};

/// Serves until SIGINT or SIGTERM, then stops cleanly and returns portpool::exit_code::stopped; returns
/// portpool::exit_code::port_lost if the port is lost while serving.
/// @throws portpool::Error (PoolExhausted, ConfigError, LockDirError) when the gateway cannot start.
int run_gateway(const GatewaySettings& settings);

}  // namespace api_gateway
