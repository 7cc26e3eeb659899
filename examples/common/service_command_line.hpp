#pragma once

// The command line every example service shares:
//
//   SERVICE [--config FILE] [--instance N|auto] [--lock-dir DIR] [--service NAME]
//           [--allow-origin ORIGIN]... [--max-connections N] [--idle-timeout SECONDS]
//           [--header-timeout SECONDS]
//           [--etcd URL[,URL...] [--prefix PREFIX] [--cacert FILE] [--cert FILE] [--key FILE]
//            [--user NAME] [--password PASSWORD]]   (with the fleet component)
//
// and the mapping of its failures to exit codes.

#include "service_runner.hpp"

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace portpool_example {

class ServiceCommandLine {
 public:
  /// Adds the shared options to `app`; `settings.service` is the default service.
  ServiceCommandLine(CLI::App& app, ServiceSettings settings);

  /// Parses the command line: the exit code when the program should end now (--help, a usage
  /// error), nullopt when it should run with settings().
  std::optional<int> parse(int argc, char** argv);

  const ServiceSettings& settings() const { return settings_; }

 private:
  void add_http_options();

  CLI::App& app_;
  ServiceSettings settings_;
  std::string instance_ = "auto";
  unsigned idle_timeout_seconds_;
  unsigned header_timeout_seconds_;
};

/// Runs `body` and turns the exceptions that stop a service from starting into exit codes, with a
/// `program: message` line on stderr.
int exit_code_of(std::string_view program, const std::function<int()>& body);

}  // namespace portpool_example
