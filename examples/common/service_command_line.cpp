#include "service_command_line.hpp"

#include "exit_codes.hpp"

#include <portpool/error.hpp>

#include <fmt/format.h>

#include <exception>
#include <utility>

namespace portpool_example {

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

int fail(std::string_view program, int code, const std::string& message) {
  fmt::print(stderr, "{}: {}\n", program, message);
  return code;
}

}  // namespace

ServiceCommandLine::ServiceCommandLine(CLI::App& app, ServiceSettings settings)
    : app_(app), settings_(std::move(settings)) {
  app_.add_option("--config", settings_.config_file, "TOML port table (default: built-in, the task sheet's table)");
  app_.add_option("--instance", instance_, "Instance number N, or auto: the lowest free one")
      ->check(check_instance, "N|auto")
      ->capture_default_str();
  app_.add_option("--lock-dir", settings_.lock_dir,
                  "Lock directory (default: $PORTPOOL_LOCK_DIR, $XDG_RUNTIME_DIR/portpool or /tmp/portpool-<uid>)");
  app_.add_option("--service", settings_.service, "The service whose pool to take a port from")->capture_default_str();
}

std::optional<int> ServiceCommandLine::parse(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app_.exit(error) == 0 ? 0 : exit_code::usage;
  }
  if (instance_ != "auto") {
    settings_.instance = static_cast<unsigned>(std::stoul(instance_));
  }
  return std::nullopt;
}

int exit_code_of(std::string_view program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const portpool::PoolExhausted& error) {
    return fail(program, exit_code::pool_exhausted, error.what());
  } catch (const portpool::ConfigError& error) {
    return fail(program, exit_code::bad_config, error.what());
  } catch (const portpool::LockDirError& error) {
    return fail(program, exit_code::unsafe_lock_dir, error.what());
  } catch (const std::exception& error) {
    return fail(program, exit_code::system_failure, error.what());
  }
}

}  // namespace portpool_example
