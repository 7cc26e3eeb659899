#pragma once

// Starting a service the way an application's start functions should: an instance number, a
// port from the service's own pool with its socket already listening, a shield on the port, and a
// clean release of everything at shutdown. The service itself is a RequestHandler.

#include "http_server.hpp"
#include "request_handler.hpp"

#include <etcd_arguments.hpp>

#include <portpool/options.hpp>
#include <portpool/service_port_table.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace portpool_example {

struct ServiceSettings {
  /// A TOML port table; empty: the built-in example table (examples/qwen-valencia.toml).
  std::filesystem::path config_file;
  /// The instance number; nullopt: the lowest free one, from InstanceManager.
  std::optional<unsigned> instance;
  /// Empty: the library's default ($PORTPOOL_LOCK_DIR, $XDG_RUNTIME_DIR/portpool, /tmp/portpool-<uid>).
  std::filesystem::path lock_dir;
  std::string service;
  /// The server name, limits, connection cap and admitted origins of the HTTP server.
  HttpServerSettings http;
  /// What the service serves, published in its holder record (the table's description fills the
  /// fields left empty).
  portpool::ServiceDescription description;
  /// The fleet registry's etcd, for listings of every host's holders (no endpoint: none).
  portpool::fleet_command_line::EtcdArguments etcd;
};

/// A service that has its port, as its request handler sees it.
struct RunningService {
  std::string service;
  std::uint16_t port = 0;
  unsigned instance = 0;
  std::vector<std::uint16_t> pool;
  const portpool::ServicePortTable& table;
  /// The options the port was taken with (lock directory, instance, probe address).
  const portpool::Options& options;
  boost::asio::any_io_executor executor;
};

using HandlerFactory = std::function<std::unique_ptr<RequestHandler>(const RunningService&)>;

/// Serves the handler `make_handler` builds until SIGINT or SIGTERM, then stops cleanly and returns
/// portpool::exit_code::stopped; returns portpool::exit_code::port_lost if the port is lost while serving.
/// @throws portpool::Error (PoolExhausted, ConfigError, LockDirError) when the service cannot start.
int run_service(const ServiceSettings& settings, const HandlerFactory& make_handler);

}  // namespace portpool_example
