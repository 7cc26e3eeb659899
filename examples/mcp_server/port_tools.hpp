#pragma once

// The server's tools: what an AI assistant can ask about the machine's ports.
//
//   list_pools    the port table's services and their pools for an instance
//   list_holders  who holds which port now, through portpool (the lock directory's Registry)
//   check_port    whether a port is free, held through portpool (by whom), or in use outside it

#include <portpool/options.hpp>
#include <portpool/service_port_table.hpp>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace mcp_server {

/// Arguments a tool cannot work with; the client gets a tool error result with the message.
class ToolArgumentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PortTools {
 public:
  /// Answers about `table` and the lock directory in `options`; `options.instance` is the
  /// instance list_pools reports when it is not given one.
  PortTools(const portpool::ServicePortTable& table, portpool::Options options);

  /// The tools/list entries: name, description and the JSON Schemas of the input and of the
  /// structured result of each tool.
  static nlohmann::json definitions();

  static bool has_tool(const std::string& name);

  /// The structured result of tool `name` called with `arguments`.
  /// @throws ToolArgumentError when the arguments are not acceptable.
  nlohmann::json call(const std::string& name, const nlohmann::json& arguments) const;

 private:
  nlohmann::json list_pools(const nlohmann::json& arguments) const;
  nlohmann::json list_holders(const nlohmann::json& arguments) const;
  nlohmann::json check_port(const nlohmann::json& arguments) const;

  const portpool::ServicePortTable& table_;
  portpool::Options options_;
};

}  // namespace mcp_server
