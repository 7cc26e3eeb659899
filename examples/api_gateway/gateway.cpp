#include "gateway.hpp"

#include "health_aggregator.hpp"
#include "routes.hpp"

#include <memory>
#include <utility>

namespace api_gateway {

namespace {

HealthCheckSettings health_check_settings(const GatewaySettings& settings, const portpool::Options& options) {
  HealthCheckSettings health;
  health.services.insert(settings.service.service);
  health.services.insert(settings.health_services.begin(), settings.health_services.end());
  health.address = options.probe_address;
  return health;
}

}  // namespace

portpool_example::ServiceSettings GatewaySettings::default_service_settings() {
  portpool_example::ServiceSettings settings;
  settings.service = "api-server";
  settings.http.server_name = "portpool-api-gateway";
  return settings;
}

int run_gateway(const GatewaySettings& settings) {
  return portpool_example::run_service(settings.service, [&](const portpool_example::RunningService& running) {
    GatewayIdentity identity{running.service, running.port, running.instance, running.pool};
    HealthAggregator health(running.executor, running.options, health_check_settings(settings, running.options),
                            running.port);
    return std::make_unique<Router>(std::move(identity), running.options, std::move(health));
  });
}

}  // namespace api_gateway
