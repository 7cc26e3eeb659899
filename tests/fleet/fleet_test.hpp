#pragma once

// Shared by the fleet tests: the fixture's etcd, a private key prefix per test (tests share one
// etcd and run in parallel), agents started as `portpool publish` processes, and views of etcd.

#include "etcd_server.hpp"
#include "ports.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_lock_policy.hpp>
#include <portpool/fleet/fleet_view.hpp>

#include <sys/types.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace portpool::test {

/// The endpoint of the etcd started by the fleet_etcd fixture.
inline std::string shared_etcd() {
  std::ifstream file(std::filesystem::path(PORTPOOL_TEST_ETCD_DIR) / "endpoint");
  std::string endpoint;
  if (!(file >> endpoint)) {
    throw std::runtime_error("the etcd fixture is not running: run the tests through ctest");
  }
  return endpoint;
}

inline std::string unique_prefix() {
  std::random_device entropy;
  return "/portpool-test/" + std::to_string(entropy()) + std::to_string(entropy());
}

inline fleet::EtcdOptions etcd_options(const std::string& endpoint) {
  fleet::EtcdOptions options;
  options.endpoints = {endpoint};
  options.request_timeout = std::chrono::seconds(5);
  return options;
}

/// A key prefix of its own, seeded as `portpool fleet-init` seeds a new cluster (its epoch marker
/// created), so that claims under it count at once instead of after the TTL plus the stop margin.
inline std::string seeded_prefix(const std::string& endpoint) {
  auto prefix = unique_prefix();
  fleet::EtcdClient etcd(etcd_options(endpoint));
  fleet::initialize_fleet(etcd, prefix, "test-fixture");
  return prefix;
}

inline std::string text_of(const std::filesystem::path& path) {
  std::ifstream file(path);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

/// The parent of `process` (from /proc/PID/stat); -1 when it cannot be read.
inline pid_t parent_of(pid_t process) {
  auto text = proc_file_text("/proc/" + std::to_string(process) + "/stat");
  auto close = text.rfind(')');
  if (close == std::string::npos) {
    return -1;
  }
  std::istringstream fields(text.substr(close + 2));
  std::string state;
  pid_t parent = -1;
  fields >> state >> parent;
  return parent;
}

/// A table in `directory` with one fleet-wide service, `scheduler`, whose pool is `port`.
inline std::string write_scheduler_table(const TempDir& directory, std::uint16_t port) {
  auto path = (directory.path() / "table.toml").string();
  std::ofstream(path) << fmt::format("[services.scheduler]\nports = [{}]\nscope = \"fleet\"\n", port);
  return path;
}

/// `run` of `scheduler` as host `host_id` (its own lock directory), with the etcd options `etcd`,
/// then `options`, then `-- COMMAND`.
inline std::vector<std::string> scheduler_run_arguments(const std::string& table, const TempDir& host,
                                                        const std::string& host_id,
                                                        const std::vector<std::string>& etcd,
                                                        const std::vector<std::string>& options,
                                                        const std::vector<std::string>& command) {
  std::vector<std::string> arguments{"run",       "--config", table, "--lock-dir", host.lock_dir().string(),
                                     "--host-id", host_id};
  arguments.insert(arguments.end(), etcd.begin(), etcd.end());
  arguments.insert(arguments.end(), options.begin(), options.end());
  arguments.emplace_back("scheduler");
  arguments.emplace_back("--");
  arguments.insert(arguments.end(), command.begin(), command.end());
  return arguments;
}

#ifdef PORTPOOL_CLI
/// `portpool ARGUMENTS...` with standard error in `log`.
inline ChildProcess spawn_cli(const std::vector<std::string>& arguments, const std::filesystem::path& log) {
  std::vector<std::string> argv{"/bin/sh", "-c",         R"(log=$1; shift; exec "$@" 2>>"$log")",
                                "sh",      log.string(), PORTPOOL_CLI};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return ChildProcess::spawn(argv);
}

/// What a finished `portpool` run printed, and how it exited.
struct Finished {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs `portpool ARGUMENTS` to its end.
inline Finished run_cli(const std::vector<std::string>& arguments) {
  TempDir scratch;
  auto process = spawn_cli(arguments, scratch.path() / "err.log");
  Finished result;
  while (auto line = process.read_line()) {
    result.out += *line + '\n';
  }
  result.exit_code = process.exit_code();
  result.err = text_of(scratch.path() / "err.log");
  return result;
}

/// A `portpool publish` agent for `host`, mirroring `lock_dir`, with `extra` arguments.
inline ChildProcess spawn_agent(const std::string& endpoint, const std::string& prefix, const std::string& host,
                                const std::filesystem::path& lock_dir, const std::filesystem::path& log,
                                const std::string& ttl = "10s", const std::vector<std::string>& extra = {}) {
  std::vector<std::string> arguments{"publish",   "--etcd",    endpoint,     "--prefix",        prefix,
                                     "--host-id", host,        "--lock-dir", lock_dir.string(), "--ttl",
                                     ttl,         "--address", "127.0.0.1"};
  arguments.insert(arguments.end(), extra.begin(), extra.end());
  return spawn_cli(arguments, log);
}
#endif

/// "host:port" of every holder in etcd under `prefix`, sorted.
inline std::vector<std::string> published(fleet::EtcdClient& etcd, const std::string& prefix) {
  std::vector<std::string> keys;
  for (const auto& holder : fleet::read_fleet(etcd, prefix).holders) {
    keys.push_back(holder.host + ":" + std::to_string(holder.port));
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

inline std::string located(const std::string& host, std::uint16_t port) { return host + ":" + std::to_string(port); }

/// Waits until etcd shows exactly `expected` (sorted "host:port"); false after `timeout`.
inline bool wait_for_view(fleet::EtcdClient& etcd, const std::string& prefix, std::vector<std::string> expected,
                          std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  std::sort(expected.begin(), expected.end());
  return wait_until(
      [&] {
        try {
          return published(etcd, prefix) == expected;
        } catch (const std::exception&) {
          return false;
        }
      },
      timeout);
}

}  // namespace portpool::test
