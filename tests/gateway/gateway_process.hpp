#pragma once

// Starting api_gateway as a real process for the tests, with a port table of test ports.

#include "process.hpp"
#include "temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace portpool::test {

/// A TOML port table whose only service, `service`, has the shared pool `ports`.
inline std::filesystem::path write_table(const TempDir& directory, const std::vector<std::uint16_t>& ports,
                                         const std::string& service = "api-server") {
  auto path = directory.path() / "ports.toml";
  std::ofstream file(path);
  file << "[instances]\nmax = 10\n\n[services." << service << "]\nports = [";
  for (std::size_t index = 0; index < ports.size(); ++index) {
    file << (index == 0 ? "" : ", ") << ports[index];
  }
  file << "]\n";
  return path;
}

/// A gateway process. Its log (stderr) is merged into its standard output, so that the tests
/// can read it line by line while it runs.
class Gateway {
 public:
  /// Starts `api_gateway --config CONFIG --lock-dir LOCK_DIR ARGUMENTS...`.
  static Gateway spawn(const std::filesystem::path& config, const std::filesystem::path& lock_dir,
                       const std::vector<std::string>& arguments = {}) {
    std::vector<std::string> gateway_arguments{"--config", config.string(), "--lock-dir", lock_dir.string()};
    gateway_arguments.insert(gateway_arguments.end(), arguments.begin(), arguments.end());
    return spawn_with_environment({}, gateway_arguments);
  }

  /// Starts `env VARIABLES... api_gateway ARGUMENTS...` (VARIABLES as NAME=value).
  static Gateway spawn_with_environment(const std::vector<std::string>& variables,
                                        const std::vector<std::string>& arguments) {
    std::vector<std::string> command{"/bin/sh", "-c", R"(exec "$0" "$@" 2>&1)", "/usr/bin/env"};
    command.insert(command.end(), variables.begin(), variables.end());
    command.emplace_back(API_GATEWAY);
    command.insert(command.end(), arguments.begin(), arguments.end());
    return Gateway(ChildProcess::spawn(command));
  }

  /// Starts `api_gateway --config CONFIG --lock-dir LOCK_DIR ARGUMENTS...` with its descriptor
  /// limit, soft and hard, set to `limit` (so that it cannot raise it).
  static Gateway spawn_with_descriptor_limit(unsigned limit, const std::filesystem::path& config,
                                             const std::filesystem::path& lock_dir,
                                             const std::vector<std::string>& arguments = {}) {
    std::vector<std::string> command{"/bin/sh",
                                     "-c",
                                     R"(ulimit -Sn "$1" && ulimit -Hn "$1" && shift && exec "$@" 2>&1)",
                                     "sh",
                                     std::to_string(limit),
                                     API_GATEWAY,
                                     "--config",
                                     config.string(),
                                     "--lock-dir",
                                     lock_dir.string()};
    command.insert(command.end(), arguments.begin(), arguments.end());
    return Gateway(ChildProcess::spawn(command));
  }

  /// Starts a gateway and waits for its start event.
  /// @throws std::runtime_error, with the gateway's output, when it does not start.
  static Gateway start(const std::filesystem::path& config, const std::filesystem::path& lock_dir,
                       const std::vector<std::string>& arguments = {}) {
    auto gateway = spawn(config, lock_dir, arguments);
    gateway.wait_until_started();
    return gateway;
  }

  /// Waits for the start event and reads the port and instance from it.
  void wait_until_started() {
    auto started = wait_for_event("start");
    if (!started) {
      throw std::runtime_error("the gateway did not start; its output:\n" + finish_output());
    }
    start_event_ = *started;
    port_ = started->at("port").get<std::uint16_t>();
    instance_ = started->at("instance").get<unsigned>();
  }

  /// The next log line whose event is `event` (earlier lines are kept in output()), or nullopt
  /// when the gateway ends, or says nothing for 20 seconds, first.
  std::optional<nlohmann::json> wait_for_event(const std::string& event) {
    while (auto line = process_.read_line()) {
      output_ += *line + '\n';
      auto parsed = nlohmann::json::parse(*line, nullptr, false);
      if (parsed.is_object() && parsed.value("event", "") == event) {
        return parsed;
      }
    }
    return std::nullopt;
  }

  /// Everything it printed until it ended.
  std::string finish_output() {
    while (auto line = process_.read_line()) {
      output_ += *line + '\n';
    }
    return output_;
  }

  /// What it printed so far (as far as the tests have read).
  const std::string& output() const { return output_; }

  /// The start event's fields (port, pool, instance, max_connections, descriptor_limit, ...).
  const nlohmann::json& start_event() const { return start_event_; }
  std::uint16_t port() const { return port_; }
  unsigned instance() const { return instance_; }
  pid_t pid() const { return process_.pid(); }
  ChildProcess& process() { return process_; }

 private:
  explicit Gateway(ChildProcess process) : process_(std::move(process)) {}

  ChildProcess process_;
  std::string output_;
  nlohmann::json start_event_;
  std::uint16_t port_ = 0;
  unsigned instance_ = 0;
};

}  // namespace portpool::test
