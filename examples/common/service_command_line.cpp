#include "service_command_line.hpp"

#include "fleet_source.hpp"

#include <portpool/error.hpp>
#include <portpool/exit_codes.hpp>
#include <portpool/parse_integer.hpp>

#include <fmt/format.h>

#include <exception>
#include <utility>

namespace portpool_example {

namespace {

std::string check_instance(const std::string& value) {
  if (value == "auto") {
    return {};
  }
  auto number = portpool::parse_integer<unsigned>(value);
  if (!number || *number == 0) {
    return "must be a number from 1 (instances count from 1), or auto for the lowest free one";
  }
  return {};
}

int fail(std::string_view program, int code, const std::string& message) {
  fmt::print(stderr, "{}: {}\n", program, message);
  return code;
}

}  // namespace

ServiceCommandLine::ServiceCommandLine(CLI::App& app, ServiceSettings settings)
    : app_(app),
      settings_(std::move(settings)),
      idle_timeout_seconds_(static_cast<unsigned>(settings_.http.limits.idle_timeout.count())),
      header_timeout_seconds_(static_cast<unsigned>(settings_.http.limits.header_timeout.count())) {
  app_.add_option("--config", settings_.config_file,
                  "TOML port table (default: the built-in example table, examples/qwen-valencia.toml)");
  app_.add_option("--instance", instance_, "Instance number N, or auto: the lowest free one")
      ->check(check_instance, "N|auto")
      ->capture_default_str();
  app_.add_option("--lock-dir", settings_.lock_dir,
                  "Lock directory (default: $PORTPOOL_LOCK_DIR, $XDG_RUNTIME_DIR/portpool or /tmp/portpool-<uid>)");
  app_.add_option("--service", settings_.service, "The service whose pool to take a port from")->capture_default_str();
  add_http_options();
  FleetSource::add_options(app_, settings_.etcd);
}

void ServiceCommandLine::add_http_options() {
  auto& http = settings_.http;
  app_.add_option("--allow-origin", http.allowed_origins,
                  "A browser origin admitted besides the loopback ones, e.g. http://localhost:5173 (repeatable)");
  app_.add_option(
          "--max-connections", http.max_connections,
          "Connections at once, long-lived streams (such as event subscribers) included; beyond it the longest-idle "
          "one is closed")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app_.add_option("--idle-timeout", idle_timeout_seconds_,
                  "Seconds a connection may wait for its next request before it is closed")
      ->check(CLI::Range(1U, 3600U))
      ->capture_default_str();
  app_.add_option("--header-timeout", header_timeout_seconds_,
                  "Seconds a request header may take to arrive once it has begun")
      ->check(CLI::Range(1U, 3600U))
      ->capture_default_str();
}

std::optional<int> ServiceCommandLine::parse(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app_.exit(error) == 0 ? 0 : portpool::exit_code::usage;
  }
  settings_.http.limits.idle_timeout = std::chrono::seconds(idle_timeout_seconds_);
  settings_.http.limits.header_timeout = std::chrono::seconds(header_timeout_seconds_);
  if (instance_ != "auto") {
    settings_.instance = portpool::parse_integer<unsigned>(instance_);
  }
  return std::nullopt;
}

int exit_code_of(std::string_view program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& error) {
    return fail(program, portpool::exit_code_for(error), error.what());
  }
}

}  // namespace portpool_example
