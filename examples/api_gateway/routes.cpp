#include "routes.hpp"

#include <portpool/error.hpp>
#include <portpool/holder_json.hpp>
#include <portpool/lock_dir.hpp>
#include <portpool/printable_text.hpp>
#include <portpool/registry.hpp>

#include "structured_log.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <optional>
#include <utility>

namespace api_gateway {

using portpool_example::json_error;
using portpool_example::json_response;

namespace {

constexpr std::string_view unmatched_route = "(no route)";
constexpr std::string_view refused_route = "(refused request)";

std::string_view standard(boost::beast::string_view text) { return {text.data(), text.size()}; }

// The value of parameter `name` in the query of `target` (its first occurrence), as sent.
std::optional<std::string_view> query_parameter(std::string_view target, std::string_view name) {
  auto query_start = target.find('?');
  if (query_start == std::string_view::npos) {
    return std::nullopt;
  }
  auto query = target.substr(query_start + 1);
  while (!query.empty()) {
    auto field = query.substr(0, query.find('&'));
    query.remove_prefix(std::min(query.size(), field.size() + 1));
    auto equals = field.find('=');
    if (field.substr(0, equals) == name) {
      return equals == std::string_view::npos ? std::string_view{} : field.substr(equals + 1);
    }
  }
  return std::nullopt;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::round(seconds * 1000) / 1000;
}

}  // namespace

Router::Router(GatewayIdentity identity, portpool::Options registry_options, HealthAggregator health,
               std::shared_ptr<portpool_example::FleetSource> fleet, boost::asio::any_io_executor executor)
    : identity_(std::move(identity)),
      registry_options_(std::move(registry_options)),
      health_(std::move(health)),
      fleet_(std::move(fleet)),
      executor_(std::move(executor)),
      routes_{{"/api/health", &Router::health},
              {"/api/services", &Router::services},
              {"/api/health/aggregated", &Router::aggregated_health},
              {"/api/tracing/stats", &Router::tracing_stats}} {}

void Router::handle(const Request& request, Respond respond) {
  auto path = path_of(standard(request.target()));
  const Route* route = find(path);
  if (route == nullptr) {
    auto message = fmt::format("no route for {}: the gateway serves GET {}", portpool::printable_text(path),
                               "/api/health, /api/services, /api/health/aggregated and /api/tracing/stats");
    return traced(std::string(unmatched_route), std::move(respond))(json_error(http::status::not_found, message));
  }
  auto reply = traced(std::string(route->path), std::move(respond));
  if (request.method() != http::verb::get) {
    auto response = json_error(
        http::status::method_not_allowed,
        fmt::format("{} is not allowed on {}: use GET", portpool::printable_text(standard(request.method_string())),
                    portpool::printable_text(path)));
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

void Router::services(const Request& request, const Respond& respond) const {
  auto scope = portpool_example::HolderScope::host;
  try {
    scope = portpool_example::parse_holder_scope(query_parameter(standard(request.target()), "scope").value_or("host"));
  } catch (const portpool_example::ScopeError& error) {
    return respond(json_error(http::status::bad_request, error.what()));
  }
  if (scope == portpool_example::HolderScope::fleet) {
    return fleet_services(respond);
  }
  respond(host_services());
}

Response Router::host_services() const {
  auto holders = nlohmann::ordered_json::array();
  for (const auto& holder : portpool::Registry::holders(registry_options_)) {
    holders.push_back(portpool::holder_json(holder));
  }
  return json_response(http::status::ok, {{"lock_dir", portpool::resolve_lock_dir(registry_options_.lock_dir).string()},
                                          {"count", holders.size()},
                                          {"services", holders}});
}

// What `portpool status --fleet --json` prints, read on the fleet source's thread: this one never
// waits for etcd.
void Router::fleet_services(const Respond& respond) const {
  fleet_->read_listing(executor_, [respond](const nlohmann::ordered_json& listing, const std::exception_ptr& error) {
    if (!error) {
      return respond(json_response(http::status::ok, listing));
    }
    try {
      std::rethrow_exception(error);
    } catch (const portpool_example::ScopeError& refusal) {
      respond(json_error(http::status::bad_request, refusal.what()));
    } catch (const portpool_example::FleetUnreachable& unreachable) {
      respond(json_error(http::status::service_unavailable, unreachable.what()));
    } catch (const portpool_example::FleetRefused& refused) {
      respond(json_error(http::status::bad_gateway, refused.what()));
    } catch (const std::exception& failure) {
      respond(json_error(http::status::internal_server_error, failure.what()));
    }
  });
}

void Router::aggregated_health(const Request& /*request*/, const Respond& respond) const {
  health_.aggregate(
      [respond](const nlohmann::ordered_json& report) { respond(json_response(http::status::ok, report)); });
}

void Router::tracing_stats(const Request& /*request*/, const Respond& respond) const {
  respond(json_response(http::status::ok, stats_.to_json()));
}

}  // namespace api_gateway
