#include "gateway.hpp"

#include "event_stream.hpp"
#include "health_aggregator.hpp"
#include "live_gateway.hpp"
#include "routes.hpp"

#include <portpool/ip_address_asio.hpp>

#include <memory>
#include <utility>

namespace api_gateway {

namespace {

HealthCheckSettings health_check_settings(const GatewaySettings& settings, const portpool::Options& options) {
  HealthCheckSettings health;
  health.services.insert(settings.service.service);
  health.services.insert(settings.health_services.begin(), settings.health_services.end());
  health.address = portpool::to_asio_address(options.probe_address);
  return health;
}

}  // namespace

portpool_example::ServiceSettings GatewaySettings::default_service_settings() {
  portpool_example::ServiceSettings settings;
  settings.service = "api-server";
  settings.http.server_name = "portpool-api-gateway";
  settings.description.protocol = "http";
  settings.description.health_path = "/api/health";
  settings.description.tags = {"gateway"};
  return settings;
}

int run_gateway(const GatewaySettings& settings) {
  auto fleet = std::make_shared<portpool_example::FleetSource>(settings.service.etcd);
  return portpool_example::run_service(settings.service, [&](const portpool_example::RunningService& running) {
    GatewayIdentity identity{running.service, running.port, running.instance, running.pool};
    HealthAggregator health(running.executor, running.options, health_check_settings(settings, running.options),
                            running.port);
    auto events = std::make_shared<EventHub>(running.executor, running.options, health, settings.health_interval);
    events->start();
    return std::make_unique<LiveGateway>(
        std::make_unique<Router>(std::move(identity), running.options, health, fleet, running.executor),
        std::move(events), running.table, running.instance, running.port, running.options,
        settings.service.http.server_name);
  });
}

}  // namespace api_gateway
