#include "mcp_endpoint.hpp"

#include "json_rpc.hpp"
#include "structured_log.hpp"

#include <fmt/format.h>

#include <string_view>
#include <utility>

namespace mcp_server {

namespace {

using nlohmann::json;
using portpool_example::Request;
using portpool_example::Response;
namespace http = portpool_example::http;

std::string_view standard(boost::beast::string_view text) { return {text.data(), text.size()}; }

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

Response accepted() {
  Response response{http::status::accepted, 11};
  response.prepare_payload();
  return response;
}

/// An HTTP-level refusal, with a JSON-RPC error body (id null) that MCP clients can show.
Response refusal(http::status status, const std::string& message) {
  return portpool_example::json_response(status, json_rpc::error(nullptr, json_rpc::invalid_request, message));
}

Response method_not_allowed(const Request& request) {
  auto response = refusal(http::status::method_not_allowed,
                          fmt::format("{} is not allowed on {}: this server takes JSON-RPC messages by POST, "
                                      "and offers no event stream",
                                      standard(request.method_string()), endpoint_path));
  response.set(http::field::allow, "POST");
  return response;
}

/// Why the client cannot take an application/json answer, or an empty string when it can.
std::string unacceptable(const Request& request) {
  auto accept = standard(request[http::field::accept]);
  if (accept.empty() || contains(accept, "application/json") || contains(accept, "*/*") ||
      contains(accept, "application/*")) {
    return {};
  }
  return fmt::format("this server answers with application/json, which the Accept header ({}) does not include",
                     accept);
}

/// Why the MCP-Protocol-Version header is unacceptable, or an empty string when it is fine.
std::string unsupported_version(const Request& request) {
  auto version = standard(request["MCP-Protocol-Version"]);
  if (version.empty() || is_supported_protocol_version(version)) {
    return {};
  }
  return fmt::format("unsupported MCP-Protocol-Version {}: this server speaks {}", version, latest_protocol_version);
}

}  // namespace

McpEndpoint::McpEndpoint(McpProtocol protocol) : protocol_(std::move(protocol)) {}

void McpEndpoint::handle(const Request& request, portpool_example::Respond respond) {
  auto path = path_of(standard(request.target()));
  if (path != endpoint_path) {
    return respond(refusal(http::status::not_found,
                           fmt::format("no endpoint at {}: the MCP endpoint is POST {}", path, endpoint_path)));
  }
  if (request.method() != http::verb::post) {
    return respond(method_not_allowed(request));
  }
  respond(answer_post(request));
}

Response McpEndpoint::reject_unreadable(const std::string& reason) {
  portpool_example::log_event("bad_request", {{"reason", reason}});
  return refusal(http::status::bad_request, reason);
}

Response McpEndpoint::answer_post(const Request& request) const {
  if (auto problem = unacceptable(request); !problem.empty()) {
    return refusal(http::status::not_acceptable, problem);
  }
  if (auto problem = unsupported_version(request); !problem.empty()) {
    return refusal(http::status::bad_request, problem);
  }
  auto messages = json::parse(request.body(), nullptr, false);
  if (messages.is_discarded()) {
    return portpool_example::json_response(
        http::status::bad_request,
        json_rpc::error(nullptr, json_rpc::parse_error, "parse error: the body is not valid JSON"));
  }
  return answer_messages(messages);
}

// A JSON array is a batch (protocol revision 2025-03-26): one answer per request in it.
Response McpEndpoint::answer_messages(const json& messages) const {
  if (!messages.is_array()) {
    auto answer = protocol_.answer(messages);
    return answer ? portpool_example::json_response(http::status::ok, *answer) : accepted();
  }
  if (messages.empty()) {
    return portpool_example::json_response(
        http::status::bad_request,
        json_rpc::error(nullptr, json_rpc::invalid_request, "an empty batch is not a request"));
  }
  auto answers = json::array();
  for (const auto& message : messages) {
    if (auto answer = protocol_.answer(message)) {
      answers.push_back(std::move(*answer));
    }
  }
  return answers.empty() ? accepted() : portpool_example::json_response(http::status::ok, answers);
}

}  // namespace mcp_server
