#include "command_line.hpp"

#include "exit_codes.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <string_view>

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace portpool::cli {
namespace {

enum class Executable { missing, not_executable, yes };

Executable check_executable(const std::string& path) {
  struct stat status {};
  if (::stat(path.c_str(), &status) != 0) {
    return Executable::missing;
  }
  return S_ISREG(status.st_mode) && ::access(path.c_str(), X_OK) == 0 ? Executable::yes : Executable::not_executable;
}

std::string search_path() {
  const char* path = std::getenv("PATH");  // read before any thread starts
  return path == nullptr ? std::string("/usr/local/bin:/usr/bin:/bin") : std::string(path);
}

}  // namespace

std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    switch (check_executable(name)) {
      case Executable::yes:
        return name;
      case Executable::missing:
        throw CommandError(fmt::format("command not found: {} does not exist", name), exit_code::command_not_found);
      case Executable::not_executable:
        throw CommandError(fmt::format("cannot run {}: it is not an executable file (chmod +x?)", name),
                           exit_code::command_not_executable);
    }
  }
  std::optional<std::string> not_executable;
  std::istringstream directories(search_path());
  for (std::string directory; std::getline(directories, directory, ':');) {
    auto candidate = (directory.empty() ? std::string(".") : directory) + "/" + name;
    auto found = check_executable(candidate);
    if (found == Executable::yes) {
      return candidate;
    }
    if (found == Executable::not_executable && !not_executable) {
      not_executable = candidate;
    }
  }
  if (not_executable) {
    throw CommandError(fmt::format("cannot run '{}': {} is not an executable file", name, *not_executable),
                       exit_code::command_not_executable);
  }
  throw CommandError(fmt::format("command not found: '{}' is not in PATH; check the name, or give its path", name),
                     exit_code::command_not_found);
}

std::vector<std::string> substitute_port(std::vector<std::string> arguments, std::uint16_t port) {
  constexpr std::string_view placeholder = "{port}";
  const auto number = std::to_string(port);
  for (auto argument = arguments.begin() + (arguments.empty() ? 0 : 1); argument != arguments.end(); ++argument) {
    for (auto at = argument->find(placeholder); at != std::string::npos;
         at = argument->find(placeholder, at + number.size())) {
      argument->replace(at, placeholder.size(), number);
    }
  }
  return arguments;
}

std::vector<std::string> child_environment(const ServiceIdentity& identity) {
  constexpr std::array<std::string_view, 12> replaced{"PORT",
                                                      "PORTPOOL_PORT",
                                                      "PORTPOOL_SERVICE",
                                                      "PORTPOOL_INSTANCE",
                                                      "PORTPOOL_FENCING_TOKEN",
                                                      "PORTPOOL_FENCING_CLUSTER",
                                                      "LISTEN_FDS",
                                                      "LISTEN_PID",
                                                      "LISTEN_FDNAMES",
                                                      "PORTPOOL_ADOPT_PORTS",
                                                      "PORTPOOL_ADOPT_FD",
                                                      "PORTPOOL_KEEPER_ADOPT"};
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view variable(*entry);
    auto name = variable.substr(0, variable.find('='));
    if (std::find(replaced.begin(), replaced.end(), name) == replaced.end()) {
      environment.emplace_back(variable);
    }
  }
  environment.push_back(fmt::format("PORT={}", identity.port));
  environment.push_back(fmt::format("PORTPOOL_PORT={}", identity.port));
  environment.push_back(fmt::format("PORTPOOL_SERVICE={}", identity.service));
  environment.push_back(fmt::format("PORTPOOL_INSTANCE={}", identity.instance));
  if (identity.fencing_token) {
    environment.push_back(fmt::format("PORTPOOL_FENCING_TOKEN={}", identity.fencing_token->revision));
    environment.push_back(fmt::format("PORTPOOL_FENCING_CLUSTER={}", identity.fencing_token->cluster_id));
  }
  if (!identity.socket_names.empty()) {
    environment.push_back(fmt::format("LISTEN_FDS={}", identity.socket_names.size()));
    environment.push_back(fmt::format("LISTEN_FDNAMES={}", fmt::join(identity.socket_names, ":")));
  }
  return environment;
}

}  // namespace portpool::cli
