#include "port_tools.hpp"

#include "structured_log.hpp"

#include <portpool/error.hpp>
#include <portpool/lock_dir.hpp>
#include <portpool/probe.hpp>
#include <portpool/registry.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

namespace mcp_server {

namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 3> tool_names{"list_pools", "list_holders", "check_port"};

json object_schema(json properties, json required = json::array()) {
  return {{"type", "object"},
          {"properties", std::move(properties)},
          {"required", std::move(required)},
          {"additionalProperties", false}};
}

/// A schema for output: every property listed is present, and a client may not assume the
/// absence of others (the results may grow).
json result_schema(json properties, json required) {
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)}};
}

json integer_schema(unsigned minimum) { return {{"type", "integer"}, {"minimum", minimum}}; }

json port_schema() {
  return {{"type", "integer"}, {"minimum", 1}, {"maximum", std::numeric_limits<std::uint16_t>::max()}};
}

json transport_schema(const char* description) {
  return {{"type", "string"}, {"enum", {"tcp", "udp", "both"}}, {"description", description}};
}

json holder_schema() {
  return result_schema({{"port", port_schema()},
                        {"service", {{"type", "string"}}},
                        {"transport", transport_schema("the socket types the port is held for")},
                        {"pid", integer_schema(1)},
                        {"instance", integer_schema(0)},
                        {"instance_id", {{"type", "string"}}},
                        {"since", {{"type", "string"}, {"description", "ISO 8601, UTC"}}},
                        {"verified",
                         {{"type", "boolean"},
                          {"description",
                           "false when any member of a shared lock directory could have written "
                           "this record"}}}},
                       {"port", "service", "transport", "pid", "instance", "instance_id", "since"});
}

json list_pools_output_schema() {
  auto service = result_schema({{"service", {{"type", "string"}}},
                                {"shared", {{"type", "boolean"}}},
                                {"transport", transport_schema("the socket types the service serves its port with")},
                                {"pool", {{"type", "array"}, {"items", port_schema()}}}},
                               {"service", "shared", "transport", "pool"});
  return result_schema({{"instance", integer_schema(1)},
                        {"max_instance", integer_schema(1)},
                        {"services", {{"type", "array"}, {"items", std::move(service)}}}},
                       {"instance", "max_instance", "services"});
}

// Host scope: lock_dir and this host's holders; fleet scope: the revision of etcd and every
// host's holders, which also say their host, address, readiness and boot id.
json list_holders_output_schema() {
  auto holder = holder_schema();
  holder["properties"].update({{"host", {{"type", "string"}, {"description", "fleet scope: the holder's host id"}}},
                               {"address", {{"type", "string"}, {"description", "fleet scope: HOST:PORT"}}},
                               {"readiness", {{"type", "string"}}},
                               {"boot_id", {{"type", "string"}}}});
  return result_schema({{"lock_dir", {{"type", "string"}, {"description", "host scope: the lock directory read"}}},
                        {"revision", {{"type", "integer"}, {"description", "fleet scope: the etcd revision read"}}},
                        {"holders", {{"type", "array"}, {"items", std::move(holder)}}}},
                       {"holders"});
}

json list_holders_input_schema() {
  return object_schema(
      {{"scope",
        {{"type", "string"},
         {"enum", {"host", "fleet"}},
         {"default", "host"},
         {"description",
          "host: this machine's holders (the default); fleet: every host's, from the fleet registry in etcd "
          "(when the server was started with --etcd), sorted by host and port"}}}});
}

json check_port_output_schema() {
  return result_schema({{"port", port_schema()},
                        {"address", {{"type", "string"}}},
                        {"transport", transport_schema("the socket types checked")},
                        {"status", {{"type", "string"}, {"enum", {"free", "held", "in_use_outside_portpool"}}}},
                        {"holder", holder_schema()},
                        {"reason", {{"type", "string"}}}},
                       {"port", "address", "transport", "status"});
}

json holder_json(const portpool::Holder& holder) {
  return {{"port", holder.port},
          {"service", holder.service},
          {"transport", portpool::to_string(holder.transport)},
          {"pid", portpool::application_pid_of(holder)},
          {"instance", holder.instance},
          {"instance_id", holder.instance_id},
          {"since", portpool_example::utc_timestamp(holder.since)},
          {"verified", holder.verified}};
}

/// `arguments[name]` as an integer from `minimum` to `maximum`.
unsigned integer_argument(const json& arguments, const char* name, unsigned minimum, unsigned maximum) {
  const auto& value = arguments.at(name);
  if (!value.is_number_integer() || value.get<long long>() < minimum || value.get<long long>() > maximum) {
    throw ToolArgumentError(
        fmt::format("'{}' must be an integer from {} to {}, not {}", name, minimum, maximum, value.dump()));
  }
  return value.get<unsigned>();
}

/// `arguments["transport"]`, tcp when absent.
portpool::Transport transport_argument(const json& arguments) {
  auto value = arguments.value("transport", json("tcp"));
  auto transport = value.is_string() ? portpool::parse_transport(value.get<std::string>()) : std::nullopt;
  if (!transport) {
    throw ToolArgumentError(fmt::format(R"('transport' must be "tcp", "udp" or "both", not {})", value.dump()));
  }
  return *transport;
}

void require_object(const json& arguments) {
  if (!arguments.is_object()) {
    throw ToolArgumentError(fmt::format("the arguments must be a JSON object, not {}", arguments.dump()));
  }
}

}  // namespace

PortTools::PortTools(const portpool::ServicePortTable& table, portpool::Options options,
                     std::shared_ptr<portpool_example::FleetSource> fleet)
    : table_(table), options_(std::move(options)), fleet_(std::move(fleet)) {}

json PortTools::definitions() {
  return json::array(
      {{{"name", "list_pools"},
        {"title", "Port pools"},
        {"description",
         "The services of the portpool port table and the pool of ports each may use, for an instance "
         "(default: this server's own)."},
        {"inputSchema",
         object_schema(
             {{"instance", {{"type", "integer"}, {"minimum", 1}, {"description", "Instance number (1 = first)"}}}})},
        {"outputSchema", list_pools_output_schema()}},
       {{"name", "list_holders"},
        {"title", "Port holders"},
        {"description",
         "Who holds which port now through portpool: port, service, transport (tcp, udp or both), pid, instance, "
         "since when; on this host, "
         "or with scope fleet on every host of the fleet (with each holder's host and address)."},
        {"inputSchema", list_holders_input_schema()},
        {"outputSchema", list_holders_output_schema()}},
       {{"name", "check_port"},
        {"title", "Check a port"},
        {"description",
         "Whether a port on the loopback address is free, held through portpool (and by whom), or in use "
         "outside portpool, for TCP (the default), UDP or both."},
        {"inputSchema", object_schema({{"port",
                                        {{"type", "integer"},
                                         {"minimum", 1},
                                         {"maximum", std::numeric_limits<std::uint16_t>::max()},
                                         {"description", "port number"}}},
                                       {"transport",
                                        {{"type", "string"},
                                         {"enum", {"tcp", "udp", "both"}},
                                         {"default", "tcp"},
                                         {"description",
                                          "tcp: is a program listening on it; udp: has a program a UDP socket "
                                          "bound to it; both: either"}}}},
                                      {"port"})},
        {"outputSchema", check_port_output_schema()}}});
}

bool PortTools::has_tool(const std::string& name) {
  return std::find(tool_names.begin(), tool_names.end(), name) != tool_names.end();
}

json PortTools::call(const std::string& name, const json& arguments) const {
  require_object(arguments);
  if (name == "list_pools") {
    return list_pools(arguments);
  }
  if (name == "list_holders") {
    return list_holders(arguments);
  }
  return check_port(arguments);
}

json PortTools::list_pools(const json& arguments) const {
  auto instance = arguments.contains("instance")
                      ? integer_argument(arguments, "instance", 1, std::numeric_limits<unsigned>::max())
                      : options_.instance;
  if (instance > table_.layout().max) {
    throw ToolArgumentError(
        fmt::format("instance {} is out of range: the table allows instances 1 to {}", instance, table_.layout().max));
  }
  json services = json::array();
  for (const auto& service : table_.services()) {
    services.push_back({{"service", service},
                        {"shared", table_.is_shared(service)},
                        {"transport", portpool::to_string(table_.transport(service))},
                        {"pool", table_.pool_for(service, instance)}});
  }
  return {{"instance", instance}, {"max_instance", table_.layout().max}, {"services", std::move(services)}};
}

json PortTools::list_holders(const json& arguments) const {
  auto scope = arguments.value("scope", json("host"));
  if (!scope.is_string()) {
    throw ToolArgumentError(fmt::format(R"('scope' must be "host" or "fleet", not {})", scope.dump()));
  }
  try {
    if (portpool_example::parse_holder_scope(scope.get<std::string>()) == portpool_example::HolderScope::fleet) {
      return fleet_holders();
    }
  } catch (const portpool_example::ScopeError& error) {
    throw ToolArgumentError(error.what());
  }
  return host_holders();
}

json PortTools::host_holders() const {
  json holders = json::array();
  for (const auto& holder : portpool::Registry::holders(options_)) {
    holders.push_back(holder_json(holder));
  }
  return {{"lock_dir", portpool::resolve_lock_dir(options_.lock_dir).string()}, {"holders", std::move(holders)}};
}

// What `portpool status --fleet --json` prints. The etcd read blocks the server's thread, at most
// for the client's request timeout.
json PortTools::fleet_holders() const {
  try {
    return fleet_->listing();
  } catch (const portpool_example::FleetUnreachable& error) {
    throw ToolError(error.what());
  } catch (const portpool_example::FleetRefused& error) {
    throw ToolError(error.what());
  }
}

json PortTools::check_port(const json& arguments) const {
  if (!arguments.contains("port")) {
    throw ToolArgumentError("'port' is required: the port number to check (1 to 65535)");
  }
  auto port = static_cast<std::uint16_t>(integer_argument(arguments, "port", 1, 65535));
  auto transport = transport_argument(arguments);
  json answer{
      {"port", port}, {"address", options_.probe_address.to_string()}, {"transport", portpool::to_string(transport)}};
  if (auto holder = portpool::Registry::holder_of(port, options_)) {
    answer["status"] = "held";
    answer["holder"] = holder_json(*holder);
    return answer;
  }
  if (auto refusal = portpool::BindProbe{}.check(options_.probe_address, port, transport)) {
    answer["status"] = "in_use_outside_portpool";
    answer["reason"] = *refusal;
    return answer;
  }
  answer["status"] = "free";
  return answer;
}

}  // namespace mcp_server
