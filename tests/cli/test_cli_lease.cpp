// `portpool lease`: the JSON line, the three ways a lease ends (end of input, the parent's death,
// SIGTERM), --instance from-env, --socket-path, and the exit codes.

#include "cli.hpp"

#include <portpool/test_runner.hpp>

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::ChildProcess;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::listen_on;
using portpool::test::portpool_command;
using portpool::test::ReservedPorts;
using portpool::test::run_portpool;
using portpool::test::shared_pool_config;
using portpool::test::spawn_portpool;
using portpool::test::TempDir;
using portpool::test::wait_until;
using portpool::test::write_config;

namespace {

struct Fixture {
  TempDir dir;
  ReservedPorts ports = ReservedPorts::any(2);
  std::filesystem::path config = shared_pool_config(dir, "web", ports.ports());

  std::vector<std::string> arguments(const std::vector<std::string>& options = {},
                                     const std::string& service = "web") const {
    std::vector<std::string> all{"lease", "--config", config.string(), "--lock-dir", dir.lock_dir().string()};
    all.insert(all.end(), options.begin(), options.end());
    all.push_back(service);
    return all;
  }

  ChildProcess spawn(const std::vector<std::string>& options = {},
                     const std::vector<std::string>& environment = {}) const {
    return spawn_portpool(arguments(options), environment);
  }

  bool nothing_held() const {
    return wait_until([&] { return holders(dir.lock_dir()).empty(); });
  }
};

/// The JSON line a lease prints once it holds its port.
nlohmann::json lease_line(ChildProcess& lease) {
  auto line = lease.read_line();
  REQUIRE(line);
  return nlohmann::json::parse(*line);
}

bool running(pid_t pid) { return ::kill(pid, 0) == 0; }

}  // namespace

TEST_CASE("lease prints one JSON line and holds the port until its input ends") {
  Fixture fixture;
  auto lease = fixture.spawn();
  auto line = lease_line(lease);
  CHECK(line.at("format_version") == 2);
  CHECK(line.at("port") == fixture.ports[0]);
  CHECK(line.at("service") == "web");
  CHECK(line.at("transport") == "tcp");
  CHECK(line.at("instance") == 1);
  CHECK_FALSE(line.at("instance_id").get<std::string>().empty());
  CHECK(line.at("lock_dir") == fixture.dir.lock_dir().string());
  auto held = holders(fixture.dir.lock_dir());
  REQUIRE(held.size() == 1);
  CHECK(held[0].at("port") == fixture.ports[0]);
  CHECK(held[0].at("pid") == ::getpid());  // the program that asked for the port, not the helper
  CHECK(held[0].at("helper_pid") == lease.pid());
  CHECK(held[0].at("instance_id") == line.at("instance_id"));

  // A second lease gets the other port; the pool is then exhausted.
  auto second = fixture.spawn();
  CHECK(lease_line(second).at("port") == fixture.ports[1]);
  auto third = run_portpool(fixture.arguments());
  CHECK(third.exit_code == 75);
  CHECK_THAT(third.err, Contains(fmt::format("held by pid {} (web, instance 1; the lock is its helper's, pid {})",
                                             ::getpid(), lease.pid())));

  lease.close_stdin();
  auto result = finish(lease);
  CHECK(result.exit_code == 0);
  CHECK(result.out.empty());
  CHECK(result.err.empty());
  REQUIRE(holders(fixture.dir.lock_dir()).size() == 1);
  second.close_stdin();
  CHECK(finish(second).exit_code == 0);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("lease of a udp or both service says so in its line, and the port is held for it") {
  TempDir dir;
  auto ports = ReservedPorts::any(2);
  auto config = write_config(dir, "[services.dns]\nports = [" + std::to_string(ports[0]) +
                                      "]\ntransport = \"udp\"\n[services.quic]\nports = [" + std::to_string(ports[1]) +
                                      "]\ntransport = \"both\"\n");
  for (const auto& [service, transport] :
       std::vector<std::pair<std::string, std::string>>{{"dns", "udp"}, {"quic", "both"}}) {
    CAPTURE(service);
    auto lease = spawn_portpool({"lease", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), service});
    auto line = lease_line(lease);
    CHECK(line.at("format_version") == 2);
    CHECK(line.at("service") == service);
    CHECK(line.at("transport") == transport);
    auto held = holders(dir.lock_dir());
    REQUIRE(held.size() == 1);
    CHECK(held[0].at("port") == line.at("port"));
    CHECK(held[0].at("transport") == transport);
    lease.close_stdin();
    CHECK(finish(lease).exit_code == 0);
  }
}

TEST_CASE("lease ignores what it reads and holds until the end of its input") {
  Fixture fixture;
  // A shell pipeline feeds the lease's input through a pipe that ends when the shell does: a line
  // at once, more once this test closes the shell's own input, then the end.
  auto piped = ChildProcess::spawn(
      {"/bin/sh", "-c",
       R"(lease_cli=$1; shift; { printf 'anything\n'; cat >/dev/null; printf 'more'; } | "$lease_cli" "$@")", "sh",
       portpool_command(), "lease", "--config", fixture.config.string(), "--lock-dir", fixture.dir.lock_dir().string(),
       "web"});
  auto line = lease_line(piped);
  CHECK(line.at("port") == fixture.ports[0]);
  CHECK(holders(fixture.dir.lock_dir()).size() == 1);  // what it read ended nothing
  piped.close_stdin();
  CHECK(finish(piped).exit_code == 0);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("lease releases the port and exits 0 on SIGTERM") {
  Fixture fixture;
  auto lease = fixture.spawn();
  lease_line(lease);
  lease.signal(SIGTERM);
  CHECK(finish(lease).exit_code == 0);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("lease ends when its parent is killed, even though its input stays open") {
  Fixture fixture;
  // The shell is the lease's parent (it waits for it, then runs ':'); the lease's input is this
  // test's pipe, which stays open after the shell is killed.
  std::vector<std::string> shell{"/bin/sh", "-c", R"("$@"; :)", "sh", portpool_command()};
  auto arguments = fixture.arguments();
  shell.insert(shell.end(), arguments.begin(), arguments.end());
  auto parent = ChildProcess::spawn(shell);
  auto line = lease_line(parent);
  auto held = holders(fixture.dir.lock_dir());
  REQUIRE(held.size() == 1);
  const pid_t lease_pid = held[0].at("helper_pid");
  CHECK(held[0].at("pid") == parent.pid());
  CHECK(lease_pid != parent.pid());
  parent.signal(SIGKILL);
  CHECK(parent.exit_code() == 128 + SIGKILL);
  CHECK(fixture.nothing_held());
  CHECK(wait_until([&] { return !running(lease_pid); }));
}

TEST_CASE("lease --parent-pid of a parent already gone takes nothing and exits 0") {
  Fixture fixture;
  // The outer shell exits at once; its subshell, the lease's real parent, outlives it, waits until
  // the outer shell is gone (reaped by this test: a zombie still counts for kill -0), and reports
  // the lease's exit status.
  std::string command =
      R"(outer=$$; ( while kill -0 "$outer" 2>/dev/null; do sleep 0.01; done; "$@" --parent-pid "$outer"; )"
      R"(echo "exit $?" ) <&0 &)";
  auto lease_arguments = fixture.arguments();
  std::vector<std::string> shell{"/bin/sh", "-c", command, "sh", portpool_command()};
  shell.insert(shell.end(), lease_arguments.begin(), lease_arguments.end());
  auto outer = ChildProcess::spawn(shell);
  CHECK(outer.exit_code() == 0);
  auto reported = outer.read_line();
  REQUIRE(reported);
  CHECK(*reported == "exit 0");
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

namespace {

std::vector<std::string> without_runner_variables() {
  std::vector<std::string> environment;
  environment.reserve(portpool::worker_variables.size());
  for (const auto& variable : portpool::worker_variables) {
    environment.push_back("-u " + std::string(variable.name));
  }
  return environment;
}

}  // namespace

TEST_CASE("lease --instance from-env takes the instance from the test runner's worker variable") {
  Fixture fixture;
  struct Case {
    std::string variable;
    unsigned instance;
  };
  for (const auto& [variable, instance] :
       {Case{"PYTEST_XDIST_WORKER=gw2", 3}, Case{"JEST_WORKER_ID=2", 2}, Case{"VITEST_POOL_ID=4", 4},
        Case{"TEST_PARALLEL_INDEX=0", 1}, Case{"MOCHA_WORKER_ID=0", 1}, Case{"NEXTEST_TEST_GLOBAL_SLOT=2", 3}}) {
    INFO(variable);
    auto environment = without_runner_variables();
    environment.push_back(variable);
    auto lease = fixture.spawn({"--instance", "from-env"}, environment);
    CHECK(lease_line(lease).at("instance") == instance);
    lease.close_stdin();
    CHECK(finish(lease).exit_code == 0);
  }
  auto named = fixture.spawn({"--instance", "from-env=SHARD"}, {"SHARD=5"});
  CHECK(lease_line(named).at("instance") == 5);
  auto from_zero = fixture.spawn({"--instance", "from-env=SLOT+1"}, {"SLOT=0"});
  CHECK(lease_line(from_zero).at("instance") == 1);
}

TEST_CASE("lease --instance from-env with a missing or malformed variable is a usage error naming it") {
  Fixture fixture;
  const auto no_runner = without_runner_variables();
  auto missing = run_portpool(fixture.arguments({"--instance", "from-env"}), no_runner);
  CHECK(missing.exit_code == 64);
  CHECK_THAT(missing.err, Contains("PYTEST_XDIST_WORKER") && Contains("MOCHA_WORKER_ID"));
  auto environment = no_runner;
  environment.emplace_back("PYTEST_XDIST_WORKER=worker-1");
  auto malformed = run_portpool(fixture.arguments({"--instance", "from-env"}), environment);
  CHECK(malformed.exit_code == 64);
  CHECK_THAT(malformed.err, Contains("PYTEST_XDIST_WORKER is 'worker-1'") && Contains("'gw'"));
  auto unset = run_portpool(fixture.arguments({"--instance", "from-env=SHARD"}), {"-u SHARD"});
  CHECK(unset.exit_code == 64);
  CHECK_THAT(unset.err, Contains("SHARD is not set"));
  auto zero = run_portpool(fixture.arguments({"--instance", "from-env=SHARD"}), {"SHARD=0"});
  CHECK(zero.exit_code == 64);
  auto too_high = run_portpool(fixture.arguments({"--instance", "from-env=SHARD"}), {"SHARD=11"});
  CHECK(too_high.exit_code == 64);
  CHECK_THAT(too_high.err, Contains("out of range"));
  auto too_high_from_zero = run_portpool(fixture.arguments({"--instance", "from-env=SLOT+1"}), {"SLOT=10"});
  CHECK(too_high_from_zero.exit_code == 64);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("lease --instance auto holds the lowest free instance number too") {
  Fixture fixture;
  auto first = fixture.spawn({"--instance", "auto"});
  auto second = fixture.spawn({"--instance", "auto"});
  auto first_line = lease_line(first);
  auto second_line = lease_line(second);
  CHECK(std::set<unsigned>{first_line.at("instance").get<unsigned>(), second_line.at("instance").get<unsigned>()} ==
        std::set<unsigned>{1, 2});
  CHECK(first_line.at("port") != second_line.at("port"));
}

TEST_CASE("lease --socket-path hands the listening socket of the port to each client") {
  Fixture fixture;
  auto path = fixture.dir.path() / "web.sock";
  auto lease = fixture.spawn({"--socket-path", path.string()});
  auto line = lease_line(lease);
  CHECK(line.at("socket_path") == path.string());
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::others_all) ==
        std::filesystem::perms::none);
  for (int client = 0; client < 2; ++client) {
    auto [sockets, text] = portpool::test::receive_sockets(path);
    REQUIRE(sockets.size() == 1);
    const auto& listening = sockets.front();
    CHECK(text == std::to_string(fixture.ports[0]) + "\n");
    CHECK(portpool::test::bound_port(listening.get()) == fixture.ports[0]);
    int accepting = 0;
    socklen_t size = sizeof accepting;
    REQUIRE(::getsockopt(listening.get(), SOL_SOCKET, SO_ACCEPTCONN, &accepting, &size) == 0);
    CHECK(accepting == 1);
  }
  lease.close_stdin();
  CHECK(finish(lease).exit_code == 0);
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("lease --socket-path that exists already is a usage error and takes nothing") {
  Fixture fixture;
  auto path = fixture.dir.path() / "taken";
  write_config(fixture.dir, "someone's file", "taken");
  auto result = run_portpool(fixture.arguments({"--socket-path", path.string()}));
  CHECK(result.exit_code == 64);
  CHECK_THAT(result.err, Contains("already exists"));
  CHECK(std::filesystem::exists(path));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("lease exits as run does: 64 usage, 75 exhausted, 77 unsafe lock directory, 78 bad config") {
  Fixture fixture;
  auto unknown = run_portpool(fixture.arguments({}, "nope"));
  CHECK(unknown.exit_code == 64);
  CHECK_THAT(unknown.err, Contains("unknown service 'nope'"));
  CHECK(run_portpool({"lease", "--lock-dir", fixture.dir.lock_dir().string()}).exit_code == 64);

  auto foreign = listen_on(fixture.ports[0]);
  auto other = listen_on(fixture.ports[1]);
  auto exhausted = run_portpool(fixture.arguments());
  CHECK(exhausted.exit_code == 75);
  CHECK(exhausted.out.empty());

  auto link = fixture.dir.path() / "link";
  std::filesystem::create_directory_symlink(fixture.dir.path(), link);
  auto unsafe = run_portpool({"lease", "--config", fixture.config.string(), "--lock-dir", link.string(), "web"});
  CHECK(unsafe.exit_code == 77);

  auto bad = write_config(fixture.dir, "[services.web]\nsise = 3\n", "bad.toml");
  auto bad_config =
      run_portpool({"lease", "--config", bad.string(), "--lock-dir", fixture.dir.lock_dir().string(), "web"});
  CHECK(bad_config.exit_code == 78);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("lease --json reports an exhausted pool as one JSON line: each port's reason and holder") {
  Fixture fixture;
  auto first = fixture.spawn();
  auto held_port = lease_line(first).at("port").get<std::uint16_t>();
  auto other_port = held_port == fixture.ports[0] ? fixture.ports[1] : fixture.ports[0];
  auto foreign = listen_on(other_port);

  auto exhausted = run_portpool(fixture.arguments({"--json"}));
  CHECK(exhausted.exit_code == 75);
  CHECK_THAT(exhausted.err, Contains("no free port for 'web'"));
  REQUIRE(exhausted.error_lines() >= 1);
  auto report = exhausted.json();
  CHECK(report.at("format_version") == 2);
  CHECK(report.at("error") == "pool_exhausted");
  CHECK(report.at("service") == "web");
  CHECK_THAT(report.at("message").get<std::string>(), Contains("no free port for 'web'"));
  const auto& refusals = report.at("refusals");
  REQUIRE(refusals.size() == 2);
  for (const auto& refusal : refusals) {
    INFO(refusal.dump());
    if (refusal.at("port") == held_port) {
      CHECK(refusal.at("reason") == "held");
      CHECK(refusal.at("holder").at("pid") == ::getpid());
      CHECK(refusal.at("holder").at("helper_pid") == first.pid());
      CHECK(refusal.at("holder").at("service") == "web");
      CHECK(refusal.at("holder").at("transport") == "tcp");
      auto listed = holders(fixture.dir.lock_dir());
      REQUIRE(listed.size() == 1);
      auto expected = listed[0];
      expected.erase("reserved");  // status's own field: whether the port is kept out of the ephemeral range
      CHECK(refusal.at("holder") == expected);
    } else {
      CHECK(refusal.at("port") == other_port);
      CHECK(refusal.at("reason") == "in_use");
      CHECK(refusal.at("holder").is_null());
      CHECK_THAT(refusal.at("detail").get<std::string>(), Contains("in use by a program outside portpool"));
    }
  }
  first.close_stdin();
  CHECK(finish(first).exit_code == 0);
}
