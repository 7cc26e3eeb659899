// mcp_server: a Model Context Protocol server on a port from its exclusive portpool pool.
//
// Its tools tell an AI assistant about the machine's ports (list_pools, list_holders, check_port);
// it serves the Streamable HTTP transport on POST /mcp.
//
//   mcp_server [--config FILE] [--instance N|auto] [--lock-dir DIR] [--service NAME] [--etcd URL[,URL...]]
//
// See docs/mcp_server.md.

#include "mcp_endpoint.hpp"
#include "mcp_protocol.hpp"
#include "port_tools.hpp"

#include "fleet_source.hpp"
#include "service_command_line.hpp"
#include "service_runner.hpp"

#include <CLI/CLI.hpp>

#include <memory>

namespace {

portpool_example::ServiceSettings default_settings() {
  portpool_example::ServiceSettings settings;
  settings.service = "mcp-universal";
  settings.http.server_name = "portpool-mcp-server";
  return settings;
}

portpool_example::HandlerFactory endpoint_factory(std::shared_ptr<portpool_example::FleetSource> fleet) {
  return [fleet = std::move(fleet)](const portpool_example::RunningService& running) {
    return std::make_unique<mcp_server::McpEndpoint>(
        mcp_server::McpProtocol(mcp_server::PortTools(running.table, running.options, fleet)));
  };
}

}  // namespace

int main(int argc, char** argv) {
  return portpool_example::exit_code_of("mcp_server", [&] {
    CLI::App app{"An MCP server whose tools report the machine's ports, on a port from its exclusive portpool pool."};
    portpool_example::ServiceCommandLine command_line(app, default_settings());
    if (auto exit_now = command_line.parse(argc, argv)) {
      return *exit_now;
    }
    auto fleet = std::make_shared<portpool_example::FleetSource>(command_line.settings().etcd);
    return portpool_example::run_service(command_line.settings(), endpoint_factory(std::move(fleet)));
  });
}
