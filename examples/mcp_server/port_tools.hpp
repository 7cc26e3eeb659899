#pragma once

// The server's tools: what an AI assistant can ask about the machine's ports.
//
//   list_pools    the port table's services and their pools for an instance
//   list_holders  who holds which port now, through portpool (the lock directory's Registry);
//                 with scope "fleet", on every host (the fleet registry in etcd, --etcd)
//   check_port    whether a port is free, held through portpool (by whom), or in use outside it

#include "fleet_source.hpp"

#include <portpool/options.hpp>
#include <portpool/service_port_table.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <stdexcept>
#include <string>

namespace mcp_server {

/// A call the tool cannot answer; the client gets a tool error result with the message.
class ToolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Arguments a tool cannot work with.
class ToolArgumentError : public ToolError {
 public:
  using ToolError::ToolError;
};

class PortTools {
 public:
  /// Answers about `table` and the lock directory in `options`, and about the fleet from `fleet`;
  /// `options.instance` is the instance list_pools reports when it is not given one.
  PortTools(const portpool::ServicePortTable& table, portpool::Options options,
            std::shared_ptr<portpool_example::FleetSource> fleet);

  /// The tools/list entries: name, description and the JSON Schemas of the input and of the
  /// structured result of each tool.
  static nlohmann::json definitions();

  static bool has_tool(const std::string& name);

  /// The structured result of tool `name` called with `arguments`.
  /// @throws ToolArgumentError when the arguments are not acceptable, ToolError when the tool cannot
  /// answer (the fleet's etcd unreachable).
  nlohmann::json call(const std::string& name, const nlohmann::json& arguments) const;

 private:
  nlohmann::json list_pools(const nlohmann::json& arguments) const;
  nlohmann::json list_holders(const nlohmann::json& arguments) const;
  nlohmann::json host_holders() const;
  nlohmann::json fleet_holders() const;
  nlohmann::json check_port(const nlohmann::json& arguments) const;

  const portpool::ServicePortTable& table_;
  portpool::Options options_;
  std::shared_ptr<portpool_example::FleetSource> fleet_;
};

}  // namespace mcp_server
