#pragma once

// JSON-RPC 2.0 messages: the error codes MCP uses, and building responses.

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace mcp_server::json_rpc {

inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;

/// Thrown by a method to answer with a JSON-RPC error instead of a result.
class Error : public std::runtime_error {
 public:
  Error(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

inline nlohmann::json result(const nlohmann::json& id, nlohmann::json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

inline nlohmann::json error(const nlohmann::json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

/// An error that answers no particular request: the transport's refusal of a whole HTTP request
/// (MCP's Streamable HTTP lets such a body carry a JSON-RPC error without an id).
inline nlohmann::json error_without_id(int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"error", {{"code", code}, {"message", message}}}};
}

}  // namespace mcp_server::json_rpc
