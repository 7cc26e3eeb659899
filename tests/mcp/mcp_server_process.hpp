#pragma once

// Starting mcp_server as a real process for the tests, and running the SDK client against it.

#include "process.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace portpool::test {

/// An mcp_server process; its log (stderr) is merged into its standard output, read line by line.
class McpServerProcess {
 public:
  /// Starts `mcp_server --config CONFIG --lock-dir LOCK_DIR --instance INSTANCE` and waits for
  /// its start event.
  /// @throws std::runtime_error, with the server's output, when it does not start.
  static McpServerProcess start(const std::filesystem::path& config, const std::filesystem::path& lock_dir,
                                unsigned instance, const std::vector<std::string>& arguments = {}) {
    std::vector<std::string> command{
        "/bin/sh",       "-c",         R"(exec "$0" "$@" 2>&1)", MCP_SERVER,   "--config",
        config.string(), "--lock-dir", lock_dir.string(),        "--instance", std::to_string(instance)};
    command.insert(command.end(), arguments.begin(), arguments.end());
    McpServerProcess server(ChildProcess::spawn(command));
    while (auto line = server.process_.read_line()) {
      server.output_ += *line + '\n';
      auto event = nlohmann::json::parse(*line, nullptr, false);
      if (event.is_object() && event.value("event", "") == "start") {
        server.port_ = event.at("port").get<std::uint16_t>();
        return server;
      }
    }
    throw std::runtime_error("mcp_server did not start; its output:\n" + server.output_);
  }

  /// The next log line whose event is `event` (every line read is kept in output()), or nullopt
  /// when the server ends, or says nothing for 20 seconds, first.
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

  /// What it printed so far (as far as the tests have read).
  const std::string& output() const { return output_; }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }
  ChildProcess& process() { return process_; }

 private:
  explicit McpServerProcess(ChildProcess process) : process_(std::move(process)) {}

  ChildProcess process_;
  std::string output_;
  std::uint16_t port_ = 0;
};

/// Runs client_check.mjs (the official SDK's client) against `url`, with check_port called for
/// each of `check_ports`, and returns its report.
/// @throws std::runtime_error when the client fails or says nothing within a minute.
inline nlohmann::json run_sdk_client(const std::string& url, const std::vector<std::uint16_t>& check_ports) {
  std::vector<std::string> command{"/bin/sh", "-c", R"(exec "$0" "$@" 2>&1)", NODE_EXECUTABLE, MCP_CLIENT_CHECK, url};
  for (auto port : check_ports) {
    command.push_back(std::to_string(port));
  }
  auto client = ChildProcess::spawn(command);
  std::string output;
  while (auto line = client.read_line(std::chrono::seconds(60))) {
    output += *line + '\n';
    auto report = nlohmann::json::parse(*line, nullptr, false);
    if (report.is_object() && report.contains("tools")) {
      if (client.exit_code() != 0) {
        throw std::runtime_error("the SDK client failed after its report:\n" + output);
      }
      return report;
    }
  }
  throw std::runtime_error("the SDK client gave no report; its output:\n" + output);
}

}  // namespace portpool::test
