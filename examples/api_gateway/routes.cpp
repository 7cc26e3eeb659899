#include "routes.hpp"

#include <portpool/error.hpp>
#include <portpool/holder_json.hpp>
#include <portpool/lock_dir.hpp>
#include <portpool/registry.hpp>

#include "structured_log.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <cmath>
#include <exception>
#include <utility>

namespace api_gateway {

using portpool_example::json_error;
using portpool_example::json_response;

namespace {

constexpr std::string_view unmatched_route = "(no route)";
constexpr std::string_view refused_route = "(refused request)";

std::string_view standard(boost::beast::string_view text) { return {text.data(), text.size()}; }

double seconds_since(std::chrono::steady_clock::time_point start) {
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::round(seconds * 1000) / 1000;
}

}  // namespace

Router::Router(GatewayIdentity identity, portpool::Options registry_options, HealthAggregator health)
    : identity_(std::move(identity)),
      registry_options_(std::move(registry_options)),
      health_(std::move(health)),
      routes_{{"/api/health", &Router::health},
              {"/api/services", &Router::services},
              {"/api/health/aggregated", &Router::aggregated_health},
              {"/api/tracing/stats", &Router::tracing_stats}} {}

void Router::handle(const Request& request, Respond respond) {
  auto path = path_of(standard(request.target()));
  const Route* route = find(path);
  if (route == nullptr) {
    auto message = fmt::format("no route for {}: the gateway serves GET {}", path,
                               "/api/health, /api/services, /api/health/aggregated and /api/tracing/stats");
    return traced(std::string(unmatched_route), std::move(respond))(json_error(http::status::not_found, message));
  }
  auto reply = traced(std::string(route->path), std::move(respond));
  if (request.method() != http::verb::get) {
    auto response = json_error(http::status::method_not_allowed, fmt::format("{} is not allowed on {}: use GET",
                                                                             standard(request.method_string()), path));
    response.set(http::field::allow, "GET, HEAD");
    return reply(std::move(response));
  }
  try {
    (this->*route->handler)(request, reply);
  } catch (const std::exception& error) {
    reply(json_error(http::status::internal_server_error, error.what()));
  }
}

Response Router::refuse(http::status status, const std::string& reason) {
  auto response = json_error(status, reason);
  stats_.record(std::string(refused_route), response.result_int(), std::chrono::steady_clock::duration::zero());
  return response;
}

std::string_view Router::path_of(std::string_view target) { return target.substr(0, target.find('?')); }

const Router::Route* Router::find(std::string_view path) const {
  for (const auto& route : routes_) {
    if (route.path == path) {
      return &route;
    }
  }
  return nullptr;
}

Respond Router::traced(std::string route, Respond respond) {
  return [this, route = std::move(route), respond = std::move(respond),
          started = std::chrono::steady_clock::now()](Response response) {
    stats_.record(route, response.result_int(), std::chrono::steady_clock::now() - started);
    respond(std::move(response));
  };
}

void Router::health(const Request& /*request*/, const Respond& respond) const {
  respond(json_response(http::status::ok, {{"status", "ok"},
                                           {"service", identity_.service},
                                           {"port", identity_.port},
                                           {"instance", identity_.instance},
                                           {"pool", identity_.pool},
                                           {"pid", ::getpid()},
                                           {"uptime_seconds", seconds_since(identity_.started)}}));
}

void Router::services(const Request& /*request*/, const Respond& respond) const {
  auto holders = nlohmann::ordered_json::array();
  for (const auto& holder : portpool::Registry::holders(registry_options_)) {
    holders.push_back(portpool::holder_json(holder));
  }
  respond(
      json_response(http::status::ok, {{"lock_dir", portpool::resolve_lock_dir(registry_options_.lock_dir).string()},
                                       {"count", holders.size()},
                                       {"services", holders}}));
}

void Router::aggregated_health(const Request& /*request*/, const Respond& respond) const {
  health_.aggregate(
      [respond](const nlohmann::ordered_json& report) { respond(json_response(http::status::ok, report)); });
}

void Router::tracing_stats(const Request& /*request*/, const Respond& respond) const {
  respond(json_response(http::status::ok, stats_.to_json()));
}

}  // namespace api_gateway
