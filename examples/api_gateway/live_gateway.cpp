#include "live_gateway.hpp"

#include "dashboard_page.hpp"

#include <portpool/fetch_blocked_ports.hpp>
#include <portpool/holder_json.hpp>
#include <portpool/probe.hpp>
#include <portpool/registry.hpp>

#include <fmt/format.h>
#include <boost/beast/websocket/rfc6455.hpp>

#include <map>
#include <string_view>
#include <utility>

namespace api_gateway {

using portpool_example::json_response;

namespace {

constexpr std::string_view events_path = "/api/events";

std::string_view path_of(const Request& request) {
  std::string_view target(request.target().data(), request.target().size());
  return target.substr(0, target.find('?'));
}

Response dashboard() {
  Response response{http::status::ok, 11};
  response.set(http::field::content_type, "text/html; charset=utf-8");
  response.set(http::field::cache_control, "no-cache");
  // The page is self-contained: its own inline script and style, and connections to this origin.
  response.set("Content-Security-Policy",
               "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
  response.set("X-Content-Type-Options", "nosniff");
  response.body() = std::string(dashboard_page());
  response.prepare_payload();
  return response;
}

}  // namespace

LiveGateway::LiveGateway(std::unique_ptr<Router> api, std::shared_ptr<EventHub> events,
                         portpool::ServicePortTable table, unsigned instance, std::uint16_t port,
                         portpool::Options registry_options, std::string server_name)
    : api_(std::move(api)),
      events_(std::move(events)),
      table_(std::move(table)),
      instance_(instance),
      port_(port),
      registry_options_(std::move(registry_options)),
      server_name_(std::move(server_name)) {}

bool LiveGateway::from_this_machine(const Request& request) const {
  auto field = [&request](http::field name) {
    auto value = request[name];
    return std::string_view(value.data(), value.size());
  };
  auto host = field(http::field::host);
  auto origin = field(http::field::origin);
  for (std::string_view name : {"127.0.0.1", "localhost", "[::1]"}) {
    auto with_port = fmt::format("{}:{}", name, port_);
    if (host == name || host == with_port) {
      return origin.empty() || origin == "http://" + with_port;
    }
  }
  return false;
}

void LiveGateway::handle(const Request& request, Respond respond) {
  auto path = path_of(request);
  const bool live = path == "/" || path == "/api/pools" || path == events_path;
  if (request.method() != http::verb::get || !live) {
    return api_->handle(request, std::move(respond));
  }
  if (!from_this_machine(request)) {
    return respond(portpool_example::json_error(
        http::status::forbidden,
        fmt::format("{} answers only pages of this gateway: open it as http://127.0.0.1:{}/ or "
                    "http://localhost:{}/",
                    path, port_, port_)));
  }
  if (path == "/") {
    return respond(dashboard());
  }
  if (path == "/api/pools") {
    return respond(pools());
  }
  // A request for the events from this machine is taken over, unless the server is stopping.
  respond(portpool_example::json_error(http::status::service_unavailable, "the gateway is shutting down"));
}

Response LiveGateway::refuse(http::status status, const std::string& reason) { return api_->refuse(status, reason); }

std::shared_ptr<portpool_example::Connection> LiveGateway::take_over(const Request& request,
                                                                     boost::beast::tcp_stream& stream,
                                                                     const std::function<void()>& on_closed) {
  if (request.method() != http::verb::get || path_of(request) != events_path || !from_this_machine(request)) {
    return nullptr;  // handle() answers why
  }
  if (boost::beast::websocket::is_upgrade(request)) {
    return events_->add_websocket(std::move(stream), request, on_closed);
  }
  return events_->add_event_stream(std::move(stream), request, server_name_, on_closed);
}

void LiveGateway::shutdown() { events_->stop(); }

// Every port of every pool of the table, for this gateway's instance: held (and by whom), skipped
// because browsers refuse it, in use by a program outside portpool for the pool's transport (and
// why), or free.
Response LiveGateway::pools() const {
  std::map<std::uint16_t, portpool::Holder> holders;
  for (auto& holder : portpool::Registry::holders(registry_options_)) {
    holders.emplace(holder.port, std::move(holder));
  }
  portpool::BindProbe probe;
  auto list = nlohmann::ordered_json::array();
  for (const auto& service : table_.services()) {
    auto transport = table_.transport(service);
    auto ports = nlohmann::ordered_json::array();
    for (auto port : table_.pool_for(service, instance_)) {
      nlohmann::ordered_json entry{{"port", port}};
      if (auto held = holders.find(port); held != holders.end()) {
        entry["state"] = "held";
        entry["holder"] = portpool::holder_json(held->second);
      } else if (portpool::is_fetch_blocked_port(port) && !table_.allows_fetch_blocked_ports(service)) {
        entry["state"] = "blocked";
        entry["detail"] = "browsers and fetch() refuse this port, so the pool skips it";
      } else if (auto problem = probe.check(registry_options_.probe_address, port, transport)) {
        entry["state"] = "in_use";
        entry["detail"] = *problem;
      } else {
        entry["state"] = "free";
      }
      ports.push_back(std::move(entry));
    }
    list.push_back({{"service", service},
                    {"shared", table_.is_shared(service)},
                    {"transport", portpool::to_string(transport)},
                    {"ports", ports}});
  }
  return json_response(http::status::ok, {{"instance", instance_}, {"pools", list}});
}

}  // namespace api_gateway
