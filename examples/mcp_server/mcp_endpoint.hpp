#pragma once

// The MCP "Streamable HTTP" transport on POST /mcp, stateless and without server-sent events:
// each POST carries a JSON-RPC message (a batch of them only in revision 2025-03-26) as an
// application/json body and gets the response as one application/json body (202 Accepted with no
// body when it carried only notifications or responses). GET /mcp, the optional event stream,
// answers 405 Method Not Allowed, as the transport allows. Host and Origin are checked by the
// shared server (examples/common/origin_policy.hpp) before a request gets here.

#include "mcp_protocol.hpp"

#include "request_handler.hpp"

#include <string>

namespace mcp_server {

inline constexpr std::string_view endpoint_path = "/mcp";

class McpEndpoint : public portpool_example::RequestHandler {
 public:
  explicit McpEndpoint(McpProtocol protocol);

  void handle(const portpool_example::Request& request, portpool_example::Respond respond) override;
  portpool_example::Response refuse(portpool_example::http::status status, const std::string& reason) override;

 private:
  portpool_example::Response answer_post(const portpool_example::Request& request) const;
  portpool_example::Response answer_messages(const portpool_example::Request& request,
                                             const nlohmann::json& messages) const;

  McpProtocol protocol_;
};

}  // namespace mcp_server
