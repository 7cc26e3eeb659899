#pragma once

// Starting the gateway the way the task sheet's startAPIServer() should have: an instance number,
// a port from the service's own pool with its socket already listening, a shield on the port, and
// a clean release of everything at shutdown.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace api_gateway {

/// The exit codes (sysexits.h values, as the portpool command uses).
namespace exit_code {
inline constexpr int stopped = 0;          ///< stopped by SIGINT or SIGTERM
inline constexpr int usage = 64;           ///< wrong command line
inline constexpr int port_lost = 69;       ///< the shield saw the port lost while serving
inline constexpr int system_failure = 71;  ///< anything else
inline constexpr int pool_exhausted = 75;  ///< no free port in the pool, or no free instance number
inline constexpr int unsafe_lock_dir = 77;
inline constexpr int bad_config = 78;  ///< invalid port table, unknown service, instance out of range
}  // namespace exit_code

struct GatewaySettings {
  /// A TOML port table; empty: the built-in table (api-server = 9000-9002).
  std::filesystem::path config_file;
  /// The instance number; nullopt: the lowest free one, from InstanceManager.
  std::optional<unsigned> instance;
  /// Empty: the library's default ($PORTPOOL_LOCK_DIR, $XDG_RUNTIME_DIR/portpool, /tmp/portpool-<uid>).
  std::filesystem::path lock_dir;
  std::string service = "api-server";
  /// Other services whose holders serve GET /api/health, for /api/health/aggregated.
  std::vector<std::string> health_services;
};

/// Serves until SIGINT or SIGTERM, then stops cleanly and returns exit_code::stopped; returns
/// exit_code::port_lost if the port is lost while serving.
/// @throws portpool::Error (PoolExhausted, ConfigError, LockDirError) when the gateway cannot start.
int run_gateway(const GatewaySettings& settings);

}  // namespace api_gateway
