#pragma once

// The Model Context Protocol's methods, on JSON-RPC 2.0 messages (whatever the transport):
// initialize, notifications/initialized, ping, tools/list and tools/call.

#include "port_tools.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace mcp_server {

/// The newest protocol revision this server speaks, which it answers a client asking for another.
inline constexpr std::string_view latest_protocol_version = "2025-11-25";
/// The only revision whose POST bodies may be JSON-RPC batches (2025-06-18 removed them), and the
/// one a server assumes when a request carries no MCP-Protocol-Version header.
inline constexpr std::string_view batch_protocol_version = "2025-03-26";

/// Whether `version` is one of the revisions this server speaks: 2025-11-25, 2025-06-18 and
/// 2025-03-26, those with the Streamable HTTP transport. (2024-11-05 had only the older HTTP+SSE
/// transport, which this server does not offer, so no client of that revision could use it.)
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
