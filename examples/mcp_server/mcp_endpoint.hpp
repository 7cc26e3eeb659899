#pragma once

// The MCP "Streamable HTTP" transport on POST /mcp, stateless and without server-sent events:
// each POST carries JSON-RPC messages and gets the responses as one application/json body
// (202 Accepted with no body when it carried only notifications or responses). GET /mcp, the
// optional event stream, answers 405 Method Not Allowed, as the transport allows.

#include "mcp_protocol.hpp"

#include "request_handler.hpp"

#include <string>

namespace mcp_server {

inline constexpr std::string_view endpoint_path = "/mcp";

class McpEndpoint : public portpool_example::RequestHandler {
 public:
  explicit McpEndpoint(McpProtocol protocol);

  void handle(const portpool_example::Request& request, portpool_example::Respond respond) override;
  portpool_example::Response reject_unreadable(const std::string& reason) override;

 private:
  portpool_example::Response answer_post(const portpool_example::Request& request) const;
  portpool_example::Response answer_messages(const nlohmann::json& messages) const;

  McpProtocol protocol_;
};

}  // namespace mcp_server
