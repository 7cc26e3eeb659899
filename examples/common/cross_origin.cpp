#include "cross_origin.hpp"

namespace portpool_example {

bool is_preflight(const http::request_header<>& request) {
  return request.method() == http::verb::options && request.count(http::field::origin) != 0 &&
         request.count(http::field::access_control_request_method) != 0;
}

Response preflight_response(const std::string& origin) {
  Response response{http::status::no_content, 11};
  allow_origin(response.base(), origin);
  response.set(http::field::access_control_allow_methods, "GET, POST, DELETE, OPTIONS");
  response.set(http::field::access_control_allow_headers,
               "Content-Type, Accept, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID");
  response.set(http::field::access_control_max_age, "600");
  return response;
}

void allow_origin(http::response_header<>& response, const std::string& origin) {
  response.set(http::field::access_control_allow_origin, origin);
  response.set(http::field::vary, "Origin");
  response.set(http::field::access_control_expose_headers, "Mcp-Session-Id, MCP-Protocol-Version");
}

}  // namespace portpool_example
