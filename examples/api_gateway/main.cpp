// api_gateway: the example application's API gateway (its startAPIServer()), started through portpool.
//
// It takes an instance number, a port from its service's exclusive pool (never any other port),
// serves a small HTTP API on it, and gives everything back when it stops.
//
//   api_gateway [--config FILE] [--instance N|auto] [--lock-dir DIR] [--service NAME]
//               [--health-service NAME]...
//
// See docs/api_gateway.md.

#include "gateway.hpp"

#include "service_command_line.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
  return portpool_example::exit_code_of("api_gateway", [&] {
    CLI::App app{"The example application's API gateway, serving on a port from its exclusive portpool pool."};
    api_gateway::GatewaySettings settings;
    portpool_example::ServiceCommandLine command_line(app, settings.service);
    app.add_option("--health-service", settings.health_services,
                   "Another service whose holders serve GET /api/health, for /api/health/aggregated (repeatable)");
    if (auto exit_now = command_line.parse(argc, argv)) {
      return *exit_now;
    }
    settings.service = command_line.settings();
    return api_gateway::run_gateway(settings);
  });
}
