#include "service_runner.hpp"

#include <portpool/exit_codes.hpp>
#include "descriptor_limit.hpp"
#include "http_server.hpp"
#include "structured_log.hpp"

#include <example_table.hpp>
#include <portpool/asio.hpp>
#include <portpool/config_file.hpp>

#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <utility>

namespace portpool_example {

namespace {

/// How long in-flight requests get to finish after a shutdown signal.
constexpr std::chrono::milliseconds shutdown_grace{5000};

portpool::ServicePortTable load_table(const ServiceSettings& settings) {
  return settings.config_file.empty() ? portpool::example_table::load()
                                      : portpool::load_table_file(settings.config_file);
}

/// Sets `options.instance` (and the copy's identity): the number asked for, or the lowest free one,
/// held for as long as the returned lease lives.
std::optional<portpool::InstanceLease> take_instance(const ServiceSettings& settings,
                                                     const portpool::ServicePortTable& table,
                                                     portpool::Options& options) {
  if (settings.instance) {
    options.instance = *settings.instance;
    return std::nullopt;
  }
  auto instance = portpool::InstanceManager::acquire(options, table.layout().max);
  options.instance = instance.number();
  options.instance_id = instance.id();
  return instance;
}

void log_skipped_port(const portpool::Event& event) {
  if (event.kind == portpool::EventKind::skipped) {
    log_event("port_skipped", {{"service", event.service}, {"port", event.port}, {"message", event.message}});
  }
}

portpool::ShieldOptions shield_options() {
  portpool::ShieldOptions options;
  options.expect_listener = true;  // the server's own acceptor closing is a loss too
  return options;
}

/// `wanted`, or less when the descriptor limit does not leave room for that many connections
/// besides the descriptors the service needs for itself (lock files, the registry's reads, health
/// probes, logs).
std::size_t connection_cap(std::size_t wanted, std::uint64_t descriptor_limit) {
  constexpr std::uint64_t reserved_descriptors = 64;
  auto room =
      descriptor_limit > 2 * reserved_descriptors ? descriptor_limit - reserved_descriptors : descriptor_limit / 2;
  if (wanted <= room) {
    return wanted;
  }
  log_event("max_connections_lowered", {{"requested", wanted},
                                        {"max_connections", room},
                                        {"descriptor_limit", descriptor_limit},
                                        {"message",
                                         "the descriptor limit (ulimit -n, hard) leaves room for fewer "
                                         "connections; raise it to allow more"}});
  return static_cast<std::size_t>(room);
}

const char* signal_name(int number) { return number == SIGINT ? "SIGINT" : "SIGTERM"; }

}  // namespace

int run_service(const ServiceSettings& settings, const HandlerFactory& make_handler) {
  auto table = load_table(settings);
  portpool::Options options;
  options.lock_dir = settings.lock_dir;
  options.description = settings.description;
  auto instance = take_instance(settings, table, options);
  options.on_event = log_skipped_port;

  boost::asio::io_context io(1);
  portpool::PortPoolManager manager(table, settings.service, options);
  auto listening = manager.acquire_listening(io.get_executor());

  RunningService running{
      settings.service, listening.port(), options.instance, table.pool_for(settings.service, options.instance), table,
      options,          io.get_executor()};
  auto handler = make_handler(running);
  auto http_settings = settings.http;
  auto descriptor_limit = raise_descriptor_limit();
  http_settings.max_connections = connection_cap(http_settings.max_connections, descriptor_limit);
  auto server = std::make_shared<HttpServer>(listening.acceptor, *handler, http_settings);

  int exit_status = portpool::exit_code::stopped;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  std::optional<portpool::PortShield> shield;
  auto stop = [&, stopping = false](int status) mutable {
    if (std::exchange(stopping, true)) {
      return;
    }
    exit_status = status;
    shield->stop();
    boost::system::error_code ignored;
    signals.cancel(ignored);
    signals.clear(ignored);  // a second Ctrl-C now ends the process at once (the OS frees the port)
    server->shutdown(shutdown_grace);
  };
  signals.async_wait([&](boost::system::error_code error, int signal_number) {
    if (!error) {
      log_event("shutdown", {{"signal", signal_name(signal_number)}, {"port", running.port}});
      stop(portpool::exit_code::stopped);
    }
  });
  shield.emplace(
      io.get_executor(), listening,
      [&](const portpool::ShieldEvent& loss) {
        log_event("shield_lost", {{"service", loss.service},
                                  {"port", loss.port},
                                  {"reason", portpool::to_string(loss.reason)},
                                  {"message", loss.message}});
        stop(portpool::exit_code::port_lost);
      },
      shield_options());

  log_event("start", {{"service", running.service},
                      {"port", running.port},
                      {"pool", running.pool},
                      {"instance", running.instance},
                      {"pid", ::getpid()},
                      {"lock_dir", manager.lock_dir().string()},
                      {"max_connections", http_settings.max_connections},
                      {"descriptor_limit", descriptor_limit},
                      {"allowed_origins", http_settings.allowed_origins},
                      {"url", fmt::format("http://{}:{}", options.probe_address.to_string(), running.port)}});
  server->start();
  io.run();

  boost::system::error_code ignored;
  listening.acceptor.close(ignored);
  listening.lease.release();
  if (instance) {
    instance->release();
  }
  log_event("stopped", {{"service", running.service},
                        {"released_port", running.port},
                        {"released_instance", instance ? nlohmann::ordered_json(running.instance) : nullptr},
                        {"exit_code", exit_status}});
  return exit_status;
}

}  // namespace portpool_example
