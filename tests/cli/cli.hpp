#pragma once

// Driving the built `portpool` binary as a user would: real processes, real ports, a temporary
// lock directory and config file per test.

#include "ports.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace portpool::test {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;

  nlohmann::json json() const { return nlohmann::json::parse(out); }
  std::size_t error_lines() const { return static_cast<std::size_t>(std::count(err.begin(), err.end(), '\n')); }
};

/// The `portpool` binary under test: PORTPOOL_TEST_CLI when set, so that the sanitizer builds run
/// these tests, compiled once in the plain build, against their own portpool (scripts/test.sh);
/// otherwise the one built beside these tests.
inline std::string portpool_command() {
  const char* chosen = std::getenv("PORTPOOL_TEST_CLI");
  return chosen != nullptr && *chosen != '\0' ? chosen : PORTPOOL_CLI;
}

/// Whether that portpool carries a sanitizer runtime, which needs descriptors and memory of its own.
inline bool portpool_command_sanitized() {
  const char* sanitized = std::getenv("PORTPOOL_TEST_SANITIZED");
  return PORTPOOL_TEST_SANITIZED != 0 || (sanitized != nullptr && std::string(sanitized) == "1");
}

/// env(1) and its arguments that run portpool away from the developer's own configuration
/// (PORTPOOL_CONFIG unset, XDG_CONFIG_HOME a directory without a portpool config) and then apply
/// `environment` ("NAME=value", or "-u NAME" to unset), which replaces what the test process has.
inline std::vector<std::string> isolated_environment(const std::vector<std::string>& environment = {}) {
  auto names = [&environment](const std::string& variable) {
    return std::any_of(environment.begin(), environment.end(), [&variable](const std::string& setting) {
      return setting == "-u " + variable || setting.rfind(variable + "=", 0) == 0;
    });
  };
  std::vector<std::string> argv{"/usr/bin/env"};
  std::vector<std::string> settings;
  if (!names("PORTPOOL_CONFIG")) {
    argv.insert(argv.end(), {"-u", "PORTPOOL_CONFIG"});
  }
  if (!names("XDG_CONFIG_HOME")) {
    settings.emplace_back("XDG_CONFIG_HOME=" PORTPOOL_TEST_CONFIG_HOME);
  }
  for (const auto& setting : environment) {
    if (setting.rfind("-u ", 0) == 0) {
      argv.emplace_back("-u");
      argv.push_back(setting.substr(3));
    } else {
      settings.push_back(setting);
    }
  }
  argv.insert(argv.end(), settings.begin(), settings.end());
  return argv;
}

/// `portpool ARGUMENTS...`, with `environment` applied as isolated_environment() does.
inline ChildProcess spawn_portpool(const std::vector<std::string>& arguments,
                                   const std::vector<std::string>& environment = {}) {
  auto argv = isolated_environment(environment);
  argv.emplace_back(portpool_command());
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return ChildProcess::spawn(argv);
}

/// `portpool ARGUMENTS...` with its standard error going to the file `log`, which a test can
/// read while portpool still runs.
inline ChildProcess spawn_portpool_logging(const std::vector<std::string>& arguments,
                                           const std::filesystem::path& log) {
  std::vector<std::string> argv{"/bin/sh", "-c", R"(log=$1; shift; exec "$@" 2>"$log")", "sh", log.string()};
  auto environment = isolated_environment();
  argv.insert(argv.end(), environment.begin(), environment.end());
  argv.emplace_back(portpool_command());
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return ChildProcess::spawn(argv);
}

inline std::string file_text(const std::filesystem::path& path) {
  std::ifstream file(path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

/// Everything a process wrote, and how it ended.
inline CliResult finish(ChildProcess& process) {
  CliResult result;
  while (auto line = process.read_line()) {
    result.out += *line + '\n';
  }
  result.err = process.read_stderr();
  result.exit_code = process.exit_code();
  return result;
}

inline CliResult run_portpool(const std::vector<std::string>& arguments,
                              const std::vector<std::string>& environment = {}) {
  auto process = spawn_portpool(arguments, environment);
  process.close_stdin();
  return finish(process);
}

/// `portpool ARGUMENTS...` run in the working directory `directory`, with `environment` applied
/// as isolated_environment() does.
inline CliResult run_portpool_in(const std::filesystem::path& directory, const std::vector<std::string>& arguments,
                                 const std::vector<std::string>& environment = {}) {
  std::vector<std::string> argv{"/bin/sh", "-c", R"(cd "$1" && shift && exec "$@")", "sh", directory.string()};
  auto environment_argv = isolated_environment(environment);
  argv.insert(argv.end(), environment_argv.begin(), environment_argv.end());
  argv.emplace_back(portpool_command());
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  auto process = ChildProcess::spawn(argv);
  process.close_stdin();
  return finish(process);
}

inline std::filesystem::path write_config(const TempDir& dir, const std::string& text,
                                          const std::string& name = "ports.toml") {
  auto path = dir.path() / name;
  std::ofstream(path) << text;
  return path;
}

/// A config with one shared pool `service` of `ports`.
inline std::filesystem::path shared_pool_config(const TempDir& dir, const std::string& service,
                                                const std::vector<std::uint16_t>& ports) {
  std::string list;
  for (auto port : ports) {
    list += (list.empty() ? "" : ", ") + std::to_string(port);
  }
  return write_config(dir, "[services." + service + "]\nports = [" + list + "]\n");
}

/// "READY <port>" from a CMD started by portpool_cli_child: the port, or nullopt.
inline std::optional<std::uint16_t> ready_port(ChildProcess& process) {
  auto line = process.read_line();
  if (!line || line->rfind("READY ", 0) != 0) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(std::stoul(line->substr(6)));
}

/// The live holders that `portpool status --json` reports for `lock_dir`.
inline nlohmann::json holders(const std::filesystem::path& lock_dir) {
  return run_portpool({"status", "--json", "--lock-dir", lock_dir.string()}).json().at("holders");
}

/// A temporary lock directory and a config with one shared pool "web" of three ports, for `run`.
struct RunFixture {
  TempDir dir;
  ReservedPorts ports = ReservedPorts::any(3);
  std::filesystem::path config = shared_pool_config(dir, "web", ports.ports());

  /// `run` with `options` (and --quiet: the tests read CMD's standard error, not the port line).
  std::vector<std::string> run_arguments(const std::vector<std::string>& options,
                                         const std::vector<std::string>& command) const {
    std::vector<std::string> arguments{"run",    "--config", config.string(), "--lock-dir", dir.lock_dir().string(),
                                       "--quiet"};
    arguments.insert(arguments.end(), options.begin(), options.end());
    arguments.emplace_back("web");
    arguments.emplace_back("--");
    arguments.insert(arguments.end(), command.begin(), command.end());
    return arguments;
  }

  CliResult run(const std::vector<std::string>& options, const std::vector<std::string>& command) const {
    return run_portpool(run_arguments(options, command));
  }

  ChildProcess spawn(const std::vector<std::string>& options, const std::vector<std::string>& command) const {
    return spawn_portpool(run_arguments(options, command));
  }
};

/// What a server on 127.0.0.1:port answers to a connection, or "connect failed".
inline std::string answer_of(std::uint16_t port) {
  portpool::UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto address = loopback(port);
  if (::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return "connect failed";
  }
  std::string answer;
  char buffer[256];
  for (ssize_t count; (count = ::read(client.get(), buffer, sizeof buffer)) > 0;) {
    answer.append(buffer, static_cast<std::size_t>(count));
  }
  return answer;
}

/// Whether anything listens on 127.0.0.1:port (a connection is accepted by the kernel).
inline bool accepts_connections(std::uint16_t port) {
  portpool::UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto address = loopback(port);
  return ::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

/// Whether `portpool status` lists `port` as held.
inline bool status_lists(const std::filesystem::path& lock_dir, std::uint16_t port) {
  auto listed = holders(lock_dir);
  return std::any_of(listed.begin(), listed.end(), [port](const auto& holder) { return holder.at("port") == port; });
}

/// The descriptors (at most two) `lease --socket-path` hands out at `path`, and the text they come
/// with (the port and a newline).
/// @throws std::runtime_error when nothing can be received there.
inline std::pair<std::vector<UniqueFd>, std::string> receive_sockets(const std::filesystem::path& path) {
  UniqueFd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(static_cast<char*>(address.sun_path), path.c_str(), sizeof address.sun_path - 1);
  if (!client || ::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("cannot connect to " + path.string());
  }
  std::array<char, 32> text{};
  iovec data{text.data(), text.size()};
  std::array<char, CMSG_SPACE(2 * sizeof(int))> control{};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control.data();
  message.msg_controllen = control.size();
  auto count = ::recvmsg(client.get(), &message, MSG_CMSG_CLOEXEC);
  auto* header = count > 0 ? CMSG_FIRSTHDR(&message) : nullptr;
  if (header == nullptr || header->cmsg_type != SCM_RIGHTS) {
    throw std::runtime_error("no descriptor came from " + path.string());
  }
  std::vector<UniqueFd> descriptors;
  auto received = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
  for (std::size_t index = 0; index < received; ++index) {
    int descriptor = -1;
    std::memcpy(&descriptor, CMSG_DATA(header) + index * sizeof(int), sizeof descriptor);
    descriptors.emplace_back(descriptor);
  }
  return {std::move(descriptors), std::string(text.data(), static_cast<std::size_t>(count))};
}

}  // namespace portpool::test
