// api_gateway: the task sheet's API gateway ("TAREA 1", startAPIServer()), started through portpool.
//
// It takes an instance number, a port from its service's exclusive pool (never any other port),
// serves a small HTTP API on it, and gives everything back when it stops.
//
//   api_gateway [--config FILE] [--instance N|auto] [--lock-dir DIR] [--service NAME]
//
// See docs/api_gateway.md.

#include "gateway.hpp"

#include <portpool/error.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <exception>
#include <string>

namespace {

std::string check_instance(const std::string& value) {
  if (value == "auto") {
    return {};
  }
  auto digits = value.find_first_not_of("0123456789") == std::string::npos && !value.empty() && value.size() < 10;
  if (!digits || std::stoul(value) == 0) {
    return "must be a number from 1 (instances count from 1), or auto for the lowest free one";
  }
  return {};
}

int fail(int code, const std::string& message) {
  fmt::print(stderr, "api_gateway: {}\n", message);
  return code;
}

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"The task sheet's API gateway, serving on a port from its exclusive portpool pool."};
  api_gateway::GatewaySettings settings;
  std::string instance = "auto";
  app.add_option("--config", settings.config_file, "TOML port table (default: built-in, api-server = 9000-9002)");
  app.add_option("--instance", instance, "Instance number N, or auto: the lowest free one")
      ->check(check_instance, "N|auto")
      ->capture_default_str();
  app.add_option("--lock-dir", settings.lock_dir,
                 "Lock directory (default: $PORTPOOL_LOCK_DIR, $XDG_RUNTIME_DIR/portpool or /tmp/portpool-<uid>)");
  app.add_option("--service", settings.service, "The service whose pool to take a port from")->capture_default_str();
  app.add_option("--health-service", settings.health_services,
                 "Another service whose holders serve GET /api/health, for /api/health/aggregated (repeatable)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : api_gateway::exit_code::usage;
  }
  if (instance != "auto") {
    settings.instance = static_cast<unsigned>(std::stoul(instance));
  }
  return api_gateway::run_gateway(settings);
} catch (const portpool::PoolExhausted& error) {
  return fail(api_gateway::exit_code::pool_exhausted, error.what());
} catch (const portpool::ConfigError& error) {
  return fail(api_gateway::exit_code::bad_config, error.what());
} catch (const portpool::LockDirError& error) {
  return fail(api_gateway::exit_code::unsafe_lock_dir, error.what());
} catch (const std::exception& error) {
  return fail(api_gateway::exit_code::system_failure, error.what());
}
