#include "mcp_endpoint.hpp"

#include "json_rpc.hpp"

#include <portpool/printable_text.hpp>

#include <fmt/format.h>
#include <boost/beast/core/string.hpp>

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

/// An HTTP-level refusal, with a JSON-RPC error body (without id: it answers no request) that MCP
/// clients can show.
Response refusal(http::status status, const std::string& message) {
  return portpool_example::json_response(status, json_rpc::error_without_id(json_rpc::invalid_request, message));
}

Response method_not_allowed(const Request& request) {
  auto response = refusal(http::status::method_not_allowed,
                          fmt::format("{} is not allowed on {}: this server takes JSON-RPC messages by POST, "
                                      "and offers no event stream",
                                      portpool::printable_text(standard(request.method_string())), endpoint_path));
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
                     portpool::printable_text(accept));
}

/// Why the body's media type is not JSON-RPC's, or an empty string when it is application/json.
std::string unsupported_media_type(const Request& request) {
  auto content_type = standard(request[http::field::content_type]);
  auto media_type = content_type.substr(0, content_type.find(';'));
  while (!media_type.empty() && (media_type.back() == ' ' || media_type.back() == '\t')) {
    media_type.remove_suffix(1);
  }
  if (boost::beast::iequals({media_type.data(), media_type.size()}, "application/json")) {
    return {};
  }
  return fmt::format("the body must be JSON-RPC with Content-Type: application/json, not '{}'",
                     portpool::printable_text(content_type));
}

std::string_view protocol_version_header(const Request& request) { return standard(request["MCP-Protocol-Version"]); }

bool is_initialize(const json& message) {
  return message.is_object() && message.value("method", json()) == "initialize";
}

/// Why the MCP-Protocol-Version header is unacceptable, or an empty string when it is fine. On
/// initialize the header is not checked: the body's protocolVersion is what negotiates, and some
/// clients send the revision they hope for in both.
std::string unsupported_version(const Request& request, const json& messages) {
  auto version = protocol_version_header(request);
  if (version.empty() || is_supported_protocol_version(version) || is_initialize(messages)) {
    return {};
  }
  return fmt::format("unsupported MCP-Protocol-Version {}: this server speaks {}, 2025-06-18 and {}",
                     portpool::printable_text(version), latest_protocol_version, batch_protocol_version);
}

/// Why a batch is not allowed, or an empty string when it is: only revision 2025-03-26 has
/// batches, and a request without the header is taken to be of that revision.
std::string batch_not_allowed(const Request& request) {
  auto version = protocol_version_header(request);
  if (version.empty() || version == batch_protocol_version) {
    return {};
  }
  return fmt::format(
      "a JSON-RPC batch is not allowed in protocol revision {}: send one message per POST (batches exist only in {})",
      portpool::printable_text(version), batch_protocol_version);
}

}  // namespace

McpEndpoint::McpEndpoint(McpProtocol protocol) : protocol_(std::move(protocol)) {}

void McpEndpoint::handle(const Request& request, portpool_example::Respond respond) {
  auto path = path_of(standard(request.target()));
  if (path != endpoint_path) {
    return respond(refusal(http::status::not_found, fmt::format("no endpoint at {}: the MCP endpoint is POST {}",
                                                                portpool::printable_text(path), endpoint_path)));
  }
  if (request.method() != http::verb::post) {
    return respond(method_not_allowed(request));
  }
  respond(answer_post(request));
}

Response McpEndpoint::refuse(http::status status, const std::string& reason) { return refusal(status, reason); }

Response McpEndpoint::answer_post(const Request& request) const {
  if (auto problem = unacceptable(request); !problem.empty()) {
    return refusal(http::status::not_acceptable, problem);
  }
  if (auto problem = unsupported_media_type(request); !problem.empty()) {
    return refusal(http::status::unsupported_media_type, problem);
  }
  auto messages = json::parse(request.body(), nullptr, false);
  if (messages.is_discarded()) {
    return portpool_example::json_response(
        http::status::bad_request,
        json_rpc::error(nullptr, json_rpc::parse_error, "parse error: the body is not valid JSON"));
  }
  if (auto problem = unsupported_version(request, messages); !problem.empty()) {
    return refusal(http::status::bad_request, problem);
  }
  return answer_messages(request, messages);
}

// A JSON array is a batch (protocol revision 2025-03-26 only): one answer per request in it.
Response McpEndpoint::answer_messages(const Request& request, const json& messages) const {
  if (!messages.is_array()) {
    auto answer = protocol_.answer(messages);
    return answer ? portpool_example::json_response(http::status::ok, *answer) : accepted();
  }
  if (auto problem = batch_not_allowed(request); !problem.empty()) {
    return refusal(http::status::bad_request, problem);
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
