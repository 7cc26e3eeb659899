#pragma once

// The Model Context Protocol's methods, on JSON-RPC 2.0 messages (whatever the transport):
// initialize, notifications/initialized, ping, tools/list and tools/call.

#include "port_tools.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mcp_server {

/// The protocol revisions this server speaks, newest first.
inline constexpr std::string_view latest_protocol_version = "2025-06-18";
bool is_supported_protocol_version(std::string_view version);

class McpProtocol {
 public:
  explicit McpProtocol(PortTools tools);

  /// The response to one JSON-RPC message (a request), or nullopt for a notification or a
  /// response, which get none.
  std::optional<nlohmann::json> answer(const nlohmann::json& message) const;

 private:
  nlohmann::json call_method(const std::string& method, const nlohmann::json& params) const;
  static nlohmann::json initialize(const nlohmann::json& params);
  nlohmann::json call_tool(const nlohmann::json& params) const;

  PortTools tools_;
};

}  // namespace mcp_server
