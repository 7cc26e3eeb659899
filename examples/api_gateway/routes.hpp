#pragma once

// The gateway's routes: what each endpoint answers, and the tracing of every request.
//
//   GET /api/health             this gateway: status, service, port, instance, uptime
//   GET /api/services           every live holder in the lock directory (the local registry);
//                               ?scope=fleet: every host's, from the fleet's etcd (--etcd)
//   GET /api/health/aggregated  every registered service with a health endpoint, probed now
//   GET /api/tracing/stats      requests, errors and latency percentiles per route
//
// HEAD is served wherever GET is (the shared session sends the headers without the body).

#include "fleet_source.hpp"
#include "health_aggregator.hpp"
#include "http_message.hpp"
#include "request_handler.hpp"
#include "tracing_stats.hpp"

#include <portpool/options.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace api_gateway {

using portpool_example::Request;
using portpool_example::Respond;
using portpool_example::Response;
namespace http = portpool_example::http;

/// Who this gateway is, as its health endpoint reports it.
struct GatewayIdentity {
  std::string service;
  std::uint16_t port = 0;
  unsigned instance = 0;
  std::vector<std::uint16_t> pool;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

class Router : public portpool_example::RequestHandler {
 public:
  /// The fleet listing is read off `executor`'s thread and answered on it.
  Router(GatewayIdentity identity, portpool::Options registry_options, HealthAggregator health,
         std::shared_ptr<portpool_example::FleetSource> fleet, boost::asio::any_io_executor executor);

  /// Answers `request` through `respond`, at once or (aggregated health) once the probes are in,
  /// and records it in the tracing stats.
  void handle(const Request& request, Respond respond) override;

  /// `{"error": reason}` with `status`, for a request refused before it reached a route (unreadable,
  /// not allowed by HTTP/1.1, or from a host or origin not admitted); recorded too.
  Response refuse(http::status status, const std::string& reason) override;

 private:
  using Handler = void (Router::*)(const Request&, const Respond&) const;

  struct Route {
    std::string_view path;
    Handler handler;
  };

  static std::string_view path_of(std::string_view target);
  const Route* find(std::string_view path) const;
  Respond traced(std::string route, Respond respond);

  void health(const Request& request, const Respond& respond) const;
  void services(const Request& request, const Respond& respond) const;
  Response host_services() const;
  void fleet_services(const Respond& respond) const;
  void aggregated_health(const Request& request, const Respond& respond) const;
  void tracing_stats(const Request& request, const Respond& respond) const;

  GatewayIdentity identity_;
  portpool::Options registry_options_;
  HealthAggregator health_;
  std::shared_ptr<portpool_example::FleetSource> fleet_;
  boost::asio::any_io_executor executor_;
  TracingStats stats_;
  std::vector<Route> routes_;
};

}  // namespace api_gateway
