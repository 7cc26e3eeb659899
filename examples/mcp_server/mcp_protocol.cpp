#include "mcp_protocol.hpp"

#include "json_rpc.hpp"

#include <portpool/version.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <exception>
#include <utility>

namespace mcp_server {

namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 3> supported_protocol_versions{latest_protocol_version, "2025-06-18",
                                                                      batch_protocol_version};

std::string server_version() {
  return fmt::format("{}.{}.{}", PORTPOOL_VERSION_MAJOR, PORTPOOL_VERSION_MINOR, PORTPOOL_VERSION_PATCH);
}

bool is_request_id(const json& id) { return id.is_string() || id.is_number_integer(); }

/// Checks the shape of a JSON-RPC 2.0 request or notification.
/// @throws json_rpc::Error (invalid request) when it is neither.
void check_message(const json& message) {
  if (!message.is_object() || message.value("jsonrpc", json()) != "2.0") {
    throw json_rpc::Error(json_rpc::invalid_request, R"(not a JSON-RPC 2.0 message: it needs "jsonrpc": "2.0")");
  }
  if (!message.contains("method") || !message["method"].is_string()) {
    throw json_rpc::Error(json_rpc::invalid_request, R"(a JSON-RPC request needs a string "method")");
  }
  if (message.contains("id") && !is_request_id(message["id"])) {
    throw json_rpc::Error(json_rpc::invalid_request, "a JSON-RPC request id must be a string or an integer");
  }
  if (message.contains("params") && !message["params"].is_object()) {
    throw json_rpc::Error(json_rpc::invalid_request, "MCP method parameters must be a JSON object");
  }
}

bool is_response(const json& message) {
  return message.is_object() && message.contains("id") && !message.contains("method") &&
         (message.contains("result") || message.contains("error"));
}

json tool_result(const json& structured, bool is_error) {
  auto text = structured.is_string() ? structured.get<std::string>() : structured.dump(2);
  json result{{"content", json::array({{{"type", "text"}, {"text", text}}})}, {"isError", is_error}};
  if (!is_error) {
    result["structuredContent"] = structured;
  }
  return result;
}

}  // namespace

bool is_supported_protocol_version(std::string_view version) {
  return std::find(supported_protocol_versions.begin(), supported_protocol_versions.end(), version) !=
         supported_protocol_versions.end();
}

McpProtocol::McpProtocol(PortTools tools) : tools_(std::move(tools)) {}

std::optional<json> McpProtocol::answer(const json& message) const {
  if (is_response(message)) {
    return std::nullopt;
  }
  json id = message.is_object() && message.contains("id") ? message["id"] : json();
  try {
    check_message(message);
    auto result = call_method(message["method"].get<std::string>(), message.value("params", json::object()));
    return id.is_null() ? std::nullopt : std::optional<json>(json_rpc::result(id, std::move(result)));
  } catch (const json_rpc::Error& error) {
    if (message.is_object() && message.contains("method") && !message.contains("id") &&
        error.code() != json_rpc::invalid_request) {
      return std::nullopt;  // a notification gets no answer, not even an error
    }
    return json_rpc::error(is_request_id(id) ? id : json(), error.code(), error.what());
  } catch (const std::exception& error) {
    return json_rpc::error(is_request_id(id) ? id : json(), json_rpc::internal_error, error.what());
  }
}

json McpProtocol::call_method(const std::string& method, const json& params) const {
  if (method == "initialize") {
    return initialize(params);
  }
  if (method == "ping" || method.rfind("notifications/", 0) == 0) {
    return json::object();
  }
  if (method == "tools/list") {
    return {{"tools", PortTools::definitions()}};
  }
  if (method == "tools/call") {
    return call_tool(params);
  }
  throw json_rpc::Error(json_rpc::method_not_found, fmt::format("method not found: {}", method));
}

json McpProtocol::initialize(const json& params) {
  auto requested = params.value("protocolVersion", json());
  if (!requested.is_string()) {
    throw json_rpc::Error(json_rpc::invalid_params, R"(initialize needs a string "protocolVersion")");
  }
  auto version = is_supported_protocol_version(requested.get<std::string>()) ? requested.get<std::string>()
                                                                             : std::string(latest_protocol_version);
  return {{"protocolVersion", version},
          {"capabilities", {{"tools", {{"listChanged", false}}}}},
          {"serverInfo", {{"name", "portpool-mcp-server"}, {"title", "portpool"}, {"version", server_version()}}},
          {"instructions",
           "Tools about this machine's TCP ports as portpool manages them: the port table's pools (list_pools), "
           "the ports held now and by whom (list_holders; with scope fleet, on every host of the fleet), and whether a "
           "port is free (check_port)."}};
}

json McpProtocol::call_tool(const json& params) const {
  auto name = params.value("name", json());
  if (!name.is_string() || !PortTools::has_tool(name.get<std::string>())) {
    throw json_rpc::Error(
        json_rpc::invalid_params,
        fmt::format("unknown tool {}: the tools are list_pools, list_holders and check_port", name.dump()));
  }
  try {
    return tool_result(tools_.call(name.get<std::string>(), params.value("arguments", json::object())), false);
  } catch (const ToolError& error) {
    return tool_result(json(error.what()), true);
  }
}

}  // namespace mcp_server
