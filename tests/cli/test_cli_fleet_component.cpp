// `portpool` and its fleet component: portpool itself does not load etcd's client (gRPC), so that
// the commands that do not talk to etcd start without it; one that does runs in portpool-fleet,
// found beside portpool (the build tree) or at its installed place (LIBDIR/portpool).

#include "cli.hpp"
#include "skip.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::ChildProcess;
using portpool::test::CliResult;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::isolated_environment;
using portpool::test::portpool_command;
using portpool::test::ReservedPorts;
using portpool::test::run_portpool;
using portpool::test::TempDir;
using portpool::test::write_config;

namespace {

/// The fleet component beside the portpool under test; none where portpool was built without it.
std::optional<std::filesystem::path> fleet_component() {
  auto path = std::filesystem::path(portpool_command()).parent_path() / "portpool-fleet";
  return std::filesystem::exists(path) ? std::optional(path) : std::nullopt;
}

/// `PROGRAM ARGUMENTS...` with portpool's isolated environment.
CliResult run_program(const std::filesystem::path& program, const std::vector<std::string>& arguments) {
  auto argv = isolated_environment();
  argv.push_back(program.string());
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  auto process = ChildProcess::spawn(argv);
  process.close_stdin();
  return finish(process);
}

/// An etcd endpoint where nothing answers: a loopback port this test holds bound, not listening.
struct SilentEndpoint {
  ReservedPorts port = ReservedPorts::any(1);
  std::string url = "http://127.0.0.1:" + std::to_string(port[0]);
};

/// The dynamic section of `program`, as readelf prints it; none without readelf.
std::optional<std::string> dynamic_section(const std::filesystem::path& program) {
  if (!std::filesystem::exists("/usr/bin/readelf")) {
    return std::nullopt;
  }
  auto process = ChildProcess::spawn({"/usr/bin/readelf", "--dynamic", program.string()});
  process.close_stdin();
  return finish(process).out;
}

}  // namespace

TEST_CASE("portpool loads no gRPC library: etcd's client is linked into the fleet component only") {
  auto component = fleet_component();
  if (!component) {
    PORTPOOL_SKIP("this portpool was built without the fleet component (no gRPC)");
  }
  auto command = dynamic_section(portpool_command());
  auto fleet = dynamic_section(*component);
  if (!command || !fleet) {
    PORTPOOL_SKIP("needs readelf (Debian: binutils)");
  }
  CHECK_THAT(*command, Contains("libc.so"));
  CHECK_THAT(*command, !Contains("libgrpc"));
  CHECK_THAT(*fleet, Contains("libgrpc"));
}

TEST_CASE("a command that talks to etcd runs in the fleet component, beside portpool or at its installed place") {
  auto component = fleet_component();
  if (!component) {
    PORTPOOL_SKIP("this portpool was built without the fleet component (no gRPC)");
  }
  SilentEndpoint etcd;
  auto beside = run_portpool({"status", "--fleet", "--etcd", etcd.url});
  CHECK(beside.exit_code == 69);
  CHECK_THAT(beside.err, Contains("cannot reach etcd") && Contains(etcd.url));

  TempDir installation;
  auto bin = installation.path() / "bin";
  auto companions = (bin / PORTPOOL_COMPANION_INSTALLED_DIRECTORY).lexically_normal();
  std::filesystem::create_directories(bin);
  std::filesystem::create_directories(companions);
  std::filesystem::copy_file(portpool_command(), bin / "portpool");
  std::filesystem::copy_file(*component, companions / "portpool-fleet");
  auto installed = run_program(bin / "portpool", {"status", "--fleet", "--etcd", etcd.url});
  CHECK(installed.exit_code == 69);
  CHECK_THAT(installed.err, Contains("cannot reach etcd") && Contains(etcd.url));
}

TEST_CASE("without its fleet component, portpool's etcd commands exit 69 naming where it looked, taking nothing") {
  if (!fleet_component()) {
    PORTPOOL_SKIP("this portpool was built without the fleet component (no gRPC)");
  }
  TempDir directory;
  SilentEndpoint etcd;
  auto bin = directory.path() / "bin";
  std::filesystem::create_directories(bin);
  std::filesystem::copy_file(portpool_command(), bin / "portpool");
  auto lone = bin / "portpool";
  auto config = write_config(
      directory, "[services.scheduler]\nports = [" + std::to_string(etcd.port[0]) + "]\nscope = \"fleet\"\n");
  const std::vector<std::vector<std::string>> commands{
      {"status", "--fleet", "--etcd", etcd.url},
      {"publish", "--etcd", etcd.url, "--lock-dir", directory.lock_dir().string()},
      {"fleet-init", "--etcd", etcd.url},
      {"run", "--config", config.string(), "--lock-dir", directory.lock_dir().string(), "--etcd", etcd.url, "scheduler",
       "--", "/bin/true"}};
  for (const auto& arguments : commands) {
    CAPTURE(arguments);
    auto result = run_program(lone, arguments);
    CHECK(result.exit_code == 69);
    CHECK_THAT(result.err, Contains("fleet component portpool-fleet") && Contains((bin / "portpool-fleet").string()) &&
                               Contains(" nor at " + directory.path().string() + "/lib") &&
                               Contains("/portpool/portpool-fleet") && Contains("reinstall"));
  }
  CHECK(holders(directory.lock_dir()).empty());
  CHECK(run_program(lone, {"status", "--lock-dir", directory.lock_dir().string()}).exit_code == 0);
}
