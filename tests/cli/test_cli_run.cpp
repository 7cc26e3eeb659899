// `portpool run`: ports, environment, descriptor 3, signals, exit statuses, races, errors.

#include "cli.hpp"
#include "skip.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::EndsWith;
using Catch::Matchers::StartsWith;
using portpool::test::ChildProcess;
using portpool::test::file_text;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::listen_on;
using portpool::test::ready_port;
using portpool::test::ReservedPorts;
using portpool::test::run_portpool;
using portpool::test::shared_pool_config;
using portpool::test::spawn_portpool;
using portpool::test::TempDir;
using portpool::test::wait_until;
using portpool::test::write_config;
using namespace std::chrono_literals;

namespace {

using Fixture = portpool::test::RunFixture;
using portpool::test::answer_of;

/// A listener of this test process (neither portpool nor CMD) on 127.0.0.2:port, beside CMD's on
/// 127.0.0.1; an invalid descriptor where it cannot be bound.
portpool::UniqueFd listen_on_second_loopback(std::uint16_t port) {
  portpool::UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto address = portpool::test::loopback(port);
  ::inet_pton(AF_INET, "127.0.0.2", &address.sin_addr);
  if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(socket.get(), 16) != 0) {
    return {};
  }
  return socket;
}

}  // namespace

TEST_CASE("run gives CMD the port in its environment and in {port} arguments") {
  Fixture fixture;
  auto result = fixture.run({}, {PORTPOOL_CLI_CHILD, "env", "--listen=127.0.0.1:{port}", "{port}{port}", "plain"});
  REQUIRE(result.exit_code == 0);
  auto port = std::to_string(fixture.ports[0]);
  CHECK(result.out == "PORT=" + port + "\nPORTPOOL_PORT=" + port +
                          "\nPORTPOOL_SERVICE=web\nPORTPOOL_INSTANCE=1\nLISTEN_FDS=<unset>\n"
                          "LISTEN_FDNAMES=<unset>\nLISTEN_PID_IS_MINE=no\nARG=--listen=127.0.0.1:" +
                          port + "\nARG=" + port + port + "\nARG=plain\n");
  CHECK(result.err.empty());
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run says which port it took on standard error: a line, a JSON line with --json, nothing with --quiet") {
  Fixture fixture;
  auto without_quiet = [&](const std::vector<std::string>& options) {
    auto arguments = fixture.run_arguments(options, {"true"});
    arguments.erase(std::find(arguments.begin(), arguments.end(), "--quiet"));
    return run_portpool(arguments);
  };
  auto plain = without_quiet({});
  REQUIRE(plain.exit_code == 0);
  CHECK(plain.err == "portpool: web holds port " + std::to_string(fixture.ports[0]) + " (instance 1)\n");
  auto json = without_quiet({"--json", "--instance", "2"});
  REQUIRE(json.exit_code == 0);
  auto line = nlohmann::json::parse(json.err);
  CHECK(line.at("format_version") == 2);
  CHECK(line.at("event") == "held");
  CHECK(line.at("service") == "web");
  CHECK(line.at("transport") == "tcp");
  CHECK(line.at("instance") == 2);
  const auto& pool = fixture.ports.ports();
  CHECK(std::find(pool.begin(), pool.end(), line.at("port").get<std::uint16_t>()) != pool.end());
  CHECK(json.out.empty());
  auto quiet = fixture.run({}, {"true"});
  REQUIRE(quiet.exit_code == 0);
  CHECK(quiet.err.empty());
}

TEST_CASE("run --instance from-env takes the test runner's worker, as lease does") {
  Fixture fixture;
  auto environment =
      std::vector<std::string>{"-u PYTEST_XDIST_WORKER", "-u JEST_WORKER_ID",           "-u VITEST_POOL_ID",
                               "-u TEST_PARALLEL_INDEX", "-u NEXTEST_TEST_GLOBAL_SLOT", "MOCHA_WORKER_ID=1"};
  auto result =
      run_portpool(fixture.run_arguments({"--instance", "from-env"}, {PORTPOOL_CLI_CHILD, "env"}), environment);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Contains("PORTPOOL_INSTANCE=2\n"));
  auto slot =
      run_portpool(fixture.run_arguments({"--instance", "from-env=SLOT+1"}, {PORTPOOL_CLI_CHILD, "env"}), {"SLOT=2"});
  REQUIRE(slot.exit_code == 0);
  CHECK_THAT(slot.out, Contains("PORTPOOL_INSTANCE=3\n"));
  auto missing = run_portpool(fixture.run_arguments({"--instance", "from-env=SLOT"}, {"true"}), {"-u SLOT"});
  CHECK(missing.exit_code == 64);
  CHECK_THAT(missing.err, Contains("SLOT is not set"));
}

TEST_CASE("run does not pass on LISTEN_* variables it was given") {
  Fixture fixture;
  auto result =
      run_portpool(fixture.run_arguments({}, {PORTPOOL_CLI_CHILD, "env"}), {"LISTEN_FDS=4", "LISTEN_PID=1", "PORT=1"});
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Contains("\nLISTEN_FDS=<unset>\n"));
  CHECK_THAT(result.out, StartsWith("PORT=" + std::to_string(fixture.ports[0]) + "\n"));
}

TEST_CASE("run exits with CMD's status, or 128 + the signal that killed it") {
  Fixture fixture;
  for (int code : {0, 3, 255}) {
    auto holder = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "hold", std::to_string(code)});
    REQUIRE(ready_port(holder));
    holder.close_stdin();
    CHECK(finish(holder).exit_code == code);
  }
  CHECK(fixture.run({}, {PORTPOOL_CLI_CHILD, "kill-self", std::to_string(SIGKILL)}).exit_code == 128 + SIGKILL);
  CHECK(fixture.run({}, {PORTPOOL_CLI_CHILD, "kill-self", std::to_string(SIGSEGV)}).exit_code == 128 + SIGSEGV);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("many concurrent runs on a small pool: each port to one, the rest exit 75") {
  Fixture fixture;
  constexpr int contenders = 8;
  std::vector<ChildProcess> runs;
  runs.reserve(contenders);
  for (int index = 0; index < contenders; ++index) {
    runs.push_back(fixture.spawn({}, {PORTPOOL_CLI_CHILD, "hold"}));
  }
  std::vector<std::size_t> winners;
  std::set<std::uint16_t> taken;
  std::vector<std::string> exhaustion_messages;
  for (std::size_t index = 0; index < runs.size(); ++index) {
    if (auto port = ready_port(runs[index])) {
      winners.push_back(index);
      CHECK(taken.insert(*port).second);
    } else {
      auto result = finish(runs[index]);
      CHECK(result.exit_code == 75);
      exhaustion_messages.push_back(result.err);
    }
  }
  CHECK(winners.size() == 3);
  CHECK(taken == std::set<std::uint16_t>(fixture.ports.ports().begin(), fixture.ports.ports().end()));
  REQUIRE(exhaustion_messages.size() == contenders - 3);
  for (const auto& message : exhaustion_messages) {
    CHECK_THAT(message, StartsWith("portpool: no free port for 'web'"));
    for (auto index : winners) {
      CHECK_THAT(message, Contains("pid " + std::to_string(runs[index].pid())));
    }
  }
  CHECK(holders(fixture.dir.lock_dir()).size() == 3);
  for (auto index : winners) {
    runs[index].close_stdin();
    CHECK(finish(runs[index]).exit_code == 0);
  }
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("a port used by a program outside portpool is skipped, and exhaustion says so") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto foreign = listen_on(ports[0]);
  auto config = shared_pool_config(dir, "web", ports.ports());
  auto result = run_portpool({"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), "web", "--",
                              PORTPOOL_CLI_CHILD, "env"});
  CHECK(result.exit_code == 75);
  CHECK_THAT(result.err, Contains(std::to_string(ports[0]) + ": in use by a program outside portpool"));
  CHECK_THAT(result.err, Contains("'portpool status' shows who holds what"));
  CHECK(result.out.empty());
}

TEST_CASE("run --socket passes the listening socket as descriptor 3 (LISTEN_FDS, LISTEN_PID)") {
  Fixture fixture;
  auto server = fixture.spawn({"--socket"}, {PORTPOOL_CLI_CHILD, "serve"});
  auto port = ready_port(server);
  REQUIRE(port == fixture.ports[0]);
  CHECK(answer_of(*port) == "hello from " + std::to_string(*port) + "\n");
  CHECK(finish(server).exit_code == 0);

  auto environment = fixture.run({"--socket"}, {PORTPOOL_CLI_CHILD, "env"});
  CHECK_THAT(environment.out, Contains("\nLISTEN_FDS=1\nLISTEN_FDNAMES=web\nLISTEN_PID_IS_MINE=yes\n"));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run forwards SIGHUP, SIGINT, SIGUSR1 and SIGTERM to CMD and exits with its status") {
  Fixture fixture;
  auto run = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "signals"});
  REQUIRE(ready_port(run));
  for (int number : {SIGHUP, SIGINT, SIGUSR1, SIGTERM}) {
    run.signal(number);
    CHECK(run.read_line() == "SIGNAL " + std::to_string(number));
  }
  CHECK(finish(run).exit_code == 42);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("a CMD killed by a forwarded signal makes run exit 128 + signal and release the port") {
  Fixture fixture;
  auto run = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "hold"});
  auto port = ready_port(run);
  REQUIRE(port);
  REQUIRE(holders(fixture.dir.lock_dir()).size() == 1);
  run.signal(SIGTERM);
  CHECK(finish(run).exit_code == 128 + SIGTERM);
  CHECK(holders(fixture.dir.lock_dir()).empty());
  auto next = fixture.run({}, {PORTPOOL_CLI_CHILD, "env"});
  CHECK_THAT(next.out, StartsWith("PORT=" + std::to_string(*port) + "\n"));
}

TEST_CASE("CMD gets SIGTERM when portpool itself is killed") {
  Fixture fixture;
  auto run = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "signals"});
  REQUIRE(ready_port(run));
  run.signal(SIGKILL);
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGTERM));
  CHECK(run.exit_code() == 128 + SIGKILL);
}

TEST_CASE("a CMD that cannot be run exits 127 or 126 and holds nothing") {
  Fixture fixture;
  auto missing = fixture.run({}, {"portpool-no-such-command"});
  CHECK(missing.exit_code == 127);
  CHECK(missing.err ==
        "portpool: command not found: 'portpool-no-such-command' is not in PATH; check the name, or "
        "give its path\n");
  auto missing_path = fixture.run({"--instance", "auto"}, {(fixture.dir.path() / "nothing").string()});
  CHECK(missing_path.exit_code == 127);

  auto not_executable = write_config(fixture.dir, "just text\n", "script");
  auto denied = fixture.run({}, {not_executable.string()});
  CHECK(denied.exit_code == 126);
  CHECK_THAT(denied.err, Contains("not an executable file"));

  ::chmod(not_executable.c_str(), 0755);  // executable, but no interpreter line: exec itself fails
  auto exec_failure = fixture.run({"--socket"}, {not_executable.string()});
  CHECK(exec_failure.exit_code == 126);
  CHECK_THAT(exec_failure.err, StartsWith("portpool: cannot run " + not_executable.string()));
  CHECK(exec_failure.error_lines() == 1);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run usage errors exit 64 and hold nothing") {
  Fixture fixture;
  auto unknown = run_portpool({"run", "--config", fixture.config.string(), "--lock-dir",
                               fixture.dir.lock_dir().string(), "nope", "--", PORTPOOL_CLI_CHILD, "env"});
  CHECK(unknown.exit_code == 64);
  CHECK_THAT(unknown.err, StartsWith("portpool: unknown service 'nope': the table has web"));
  for (const auto& options : std::vector<std::vector<std::string>>{
           {"--instance", "0"}, {"--instance", "11"}, {"--instance", "many"}, {"--on-lost", "ignore"}}) {
    auto result = fixture.run(options, {PORTPOOL_CLI_CHILD, "env"});
    CHECK(result.exit_code == 64);
    CHECK_THAT(result.err, Contains("see 'portpool --help'"));
    CHECK(result.out.empty());
  }
  auto without_separator = run_portpool({"run", "--config", fixture.config.string(), "--lock-dir",
                                         fixture.dir.lock_dir().string(), "web", PORTPOOL_CLI_CHILD, "env", "-x"});
  CHECK(without_separator.exit_code == 64);
  CHECK_THAT(without_separator.err, Contains("-x") && Contains("write '--' before CMD"));
  CHECK_FALSE(std::filesystem::exists(fixture.dir.lock_dir()));
}

TEST_CASE("run --instance auto takes the lowest free instance number and its pool") {
  TempDir dir;
  auto ports = ReservedPorts::consecutive(4);
  auto config = write_config(dir, "[instances]\nbase = " + std::to_string(ports[0]) +
                                      "\nstride = 2\nmax = 2\n[services.worker]\noffset = 1\nsize = 1\n");
  auto spawn = [&] {
    return spawn_portpool({"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), "--instance",
                           "auto", "worker", "--", PORTPOOL_CLI_CHILD, "hold"});
  };
  auto first = spawn();
  CHECK(ready_port(first) == ports[1]);
  auto second = spawn();
  CHECK(ready_port(second) == ports[3]);
  auto third = spawn();
  auto refused = finish(third);
  CHECK(refused.exit_code == 75);
  CHECK_THAT(refused.err, Contains("no instance of 1 to 2 has a free port for 'worker'") && Contains("instance 2: "));

  auto status = holders(dir.lock_dir());
  REQUIRE(status.size() == 2);
  CHECK(status[0].at("instance") == 1);
  CHECK(status[1].at("instance") == 2);
  first.close_stdin();
  CHECK(finish(first).exit_code == 0);
  auto again = spawn();
  CHECK(ready_port(again) == ports[1]);
  second.close_stdin();
  again.close_stdin();
  CHECK(finish(second).exit_code == 0);
  CHECK(finish(again).exit_code == 0);
}

TEST_CASE("run --socket --on-lost term stops CMD when the port is lost") {
  Fixture fixture;
  auto run = fixture.spawn({"--socket"}, {PORTPOOL_CLI_CHILD, "signals"});
  auto port = ready_port(run);
  REQUIRE(port);
  std::filesystem::remove(fixture.dir.lock_dir() / ("port-" + std::to_string(*port) + ".lock"));
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGTERM));
  auto result = finish(run);
  CHECK(result.exit_code == 69);
  CHECK_THAT(result.err, EndsWith("portpool: CMD ended with status 42 after its port was lost; exiting 69\n"));
  CHECK_THAT(result.err, StartsWith("portpool: port " + std::to_string(*port) + " of 'web' is lost: "));
  CHECK_THAT(result.err, Contains("stopping the command (SIGTERM)"));
}

TEST_CASE("run --socket --on-lost warn only reports the loss") {
  Fixture fixture;
  auto log = fixture.dir.path() / "stderr.log";
  auto run = portpool::test::spawn_portpool_logging(
      fixture.run_arguments({"--socket", "--on-lost", "warn"}, {PORTPOOL_CLI_CHILD, "hold", "7"}), log);
  auto port = ready_port(run);
  REQUIRE(port);
  std::filesystem::remove(fixture.dir.lock_dir() / ("port-" + std::to_string(*port) + ".lock"));
  std::string reported;
  CHECK(portpool::test::wait_until([&] {
    reported = portpool::test::file_text(log);
    return reported.find("the command keeps running (--on-lost warn)") != std::string::npos;
  }));
  CHECK_THAT(reported, StartsWith("portpool: port " + std::to_string(*port) + " of 'web' is lost: "));
  run.close_stdin();
  CHECK(finish(run).exit_code == 7);
}

TEST_CASE("run without --socket watches the port: CMD's own listener is not foreign, another program's is") {
  if (!portpool::test::can_listen_on_address("127.0.0.2")) {
    PORTPOOL_SKIP(
        "127.0.0.2 cannot be bound here (not routed to the loopback interface), and the other "
        "program listens there");
  }
  Fixture fixture;
  auto log = fixture.dir.path() / "stderr.log";
  auto run = portpool::test::spawn_portpool_logging(fixture.run_arguments({}, {PORTPOOL_CLI_CHILD, "listen"}), log);
  auto port = ready_port(run);
  REQUIRE(port);
  // CMD listens: the shield checks once a second, and must find nothing in two checks.
  CHECK_FALSE(wait_until([&] { return !file_text(log).empty(); }, 2500ms));
  CHECK(answer_of(*port) == "hello from " + std::to_string(*port) + "\n");

  auto foreign = listen_on_second_loopback(*port);
  REQUIRE(foreign);
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGTERM));
  CHECK(finish(run).exit_code == 69);
  auto reported = file_text(log);
  CHECK_THAT(reported, Contains("portpool: CMD ended with status 42 after its port was lost; exiting 69"));
  CHECK_THAT(reported, StartsWith("portpool: port " + std::to_string(*port) + " of 'web' is lost: "));
  CHECK_THAT(reported, Contains("127.0.0.2:" + std::to_string(*port)) && Contains("stopping the command (SIGTERM)"));
}

TEST_CASE("run without --socket --on-lost term stops CMD when its lock file is deleted") {
  Fixture fixture;
  auto run = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "listen"});
  auto port = ready_port(run);
  REQUIRE(port);
  std::filesystem::remove(fixture.dir.lock_dir() / ("port-" + std::to_string(*port) + ".lock"));
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGTERM));
  auto result = finish(run);
  CHECK(result.exit_code == 69);
  CHECK_THAT(result.err, EndsWith("portpool: CMD ended with status 42 after its port was lost; exiting 69\n"));
  CHECK_THAT(result.err, StartsWith("portpool: port " + std::to_string(*port) + " of 'web' is lost: "));
  CHECK_THAT(result.err, Contains("deleted") && Contains("stopping the command (SIGTERM)"));
}

TEST_CASE("run --on-lost term kills a CMD that ignores SIGTERM once --kill-grace has passed") {
  Fixture fixture;
  auto run = fixture.spawn({"--kill-grace", "300ms"}, {PORTPOOL_CLI_CHILD, "listen-stubborn"});
  auto port = ready_port(run);
  REQUIRE(port);
  std::filesystem::remove(fixture.dir.lock_dir() / ("port-" + std::to_string(*port) + ".lock"));
  CHECK(run.read_line() == "SIGTERM IGNORED");
  REQUIRE(wait_until([&] { return run.exited(); }));
  auto result = finish(run);
  CHECK(result.exit_code == 69);
  CHECK_THAT(result.err, Contains("portpool: CMD ended with status " + std::to_string(128 + SIGKILL) +
                                  " after its port was lost; exiting 69"));
  CHECK_THAT(result.err, StartsWith("portpool: port " + std::to_string(*port) + " of 'web' is lost: "));
  CHECK_THAT(result.err, Contains("stopping the command (SIGTERM), and its whole tree (SIGKILL)"));
}

TEST_CASE(
    "run --on-lost term stops CMD when its lock directory is moved and a run in the new directory then gets the port") {
  Fixture fixture;
  auto lock_dir = fixture.dir.lock_dir();
  auto run = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "signals"});
  auto port = ready_port(run);
  REQUIRE(port);
  std::filesystem::rename(lock_dir, fixture.dir.path() / "locks.old");
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGTERM));
  auto result = finish(run);
  CHECK(result.exit_code == 69);
  CHECK_THAT(result.err, EndsWith("portpool: CMD ended with status 42 after its port was lost; exiting 69\n"));
  CHECK_THAT(result.err, StartsWith("portpool: port " + std::to_string(*port) + " of 'web' is lost: "));
  CHECK_THAT(result.err, Contains("the lock directory " + lock_dir.string()) && Contains("was moved") &&
                             Contains("stopping the command (SIGTERM)"));

  auto second = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "hold"});
  CHECK(ready_port(second) == port);  // the first holder has stopped: the port is free in the new directory
  second.close_stdin();
  CHECK(finish(second).exit_code == 0);
}

TEST_CASE("run --on-lost term stops CMD when its lock directory is replaced by a new one, or deleted") {
  Fixture fixture;
  auto lock_dir = fixture.dir.lock_dir();
  auto run = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "signals"});
  auto port = ready_port(run);
  REQUIRE(port);
  const bool replace = GENERATE(true, false);
  if (replace) {
    std::filesystem::rename(lock_dir, fixture.dir.path() / "locks.old");
    std::filesystem::create_directory(lock_dir);
    std::filesystem::permissions(lock_dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  } else {
    std::filesystem::remove_all(lock_dir);  // the lock file goes first: either reason may be reported
  }
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGTERM));
  auto result = finish(run);
  CHECK(result.exit_code == 69);
  CHECK_THAT(result.err, EndsWith("portpool: CMD ended with status 42 after its port was lost; exiting 69\n"));
  CHECK_THAT(result.err, StartsWith("portpool: port " + std::to_string(*port) + " of 'web' is lost: "));
  CHECK_THAT(result.err, Contains("stopping the command (SIGTERM)"));
  if (replace) {  // "names nothing" when the shield looks between the rename and the mkdir
    CHECK_THAT(result.err,
               Contains("the lock directory " + lock_dir.string()) && Contains("was moved, replaced or deleted"));
  }

  auto second = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "hold"});
  CHECK(ready_port(second) == port);  // the first holder has stopped
  second.close_stdin();
  CHECK(finish(second).exit_code == 0);
}

TEST_CASE("run --on-lost warn tells a holder whose lock directory is moved before another run takes the port") {
  Fixture fixture;
  auto lock_dir = fixture.dir.lock_dir();
  auto log = fixture.dir.path() / "stderr.log";
  auto first = portpool::test::spawn_portpool_logging(
      fixture.run_arguments({"--on-lost", "warn"}, {PORTPOOL_CLI_CHILD, "hold", "7"}), log);
  auto port = ready_port(first);
  REQUIRE(port);
  std::filesystem::rename(lock_dir, fixture.dir.path() / "locks.old");
  std::string reported;
  CHECK(wait_until([&] {
    reported = file_text(log);
    return reported.find("the command keeps running (--on-lost warn)") != std::string::npos;
  }));
  CHECK_THAT(reported, StartsWith("portpool: port " + std::to_string(*port) + " of 'web' is lost: the lock directory " +
                                  lock_dir.string()));

  auto second = fixture.spawn({}, {PORTPOOL_CLI_CHILD, "hold"});
  CHECK(ready_port(second) == port);  // the first holder was told (above) before this one took the port
  second.close_stdin();
  first.close_stdin();
  CHECK(finish(second).exit_code == 0);
  CHECK(finish(first).exit_code == 7);
}

TEST_CASE("run --instance auto skips an instance whose pool is full, and --instance N takes N's lock when free") {
  TempDir dir;
  auto ports = ReservedPorts::consecutive(6);
  auto config = write_config(dir, "[instances]\nbase = " + std::to_string(ports[0]) +
                                      "\nstride = 2\nmax = 3\n[services.worker]\noffset = 1\nsize = 1\n");
  auto spawn = [&](const std::string& instance) {
    return spawn_portpool({"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), "--instance",
                           instance, "worker", "--", PORTPOOL_CLI_CHILD, "hold"});
  };
  auto foreign = listen_on(ports[1]);  // instance 1's only port, taken by a program outside portpool
  auto automatic = spawn("auto");
  CHECK(ready_port(automatic) == ports[3]);

  auto explicit_third = spawn("3");
  CHECK(ready_port(explicit_third) == ports[5]);
  auto status = holders(dir.lock_dir());
  REQUIRE(status.size() == 2);
  CHECK(status[1].at("instance") == 3);
  auto refused = spawn("auto");  // 1 is full, 2 and 3 are taken
  auto result = finish(refused);
  CHECK(result.exit_code == 75);
  CHECK_THAT(result.err,
             Contains("instance 1: no free port for 'worker'") && Contains("instance 3: instance 3 is taken"));
  for (auto* run : {&automatic, &explicit_third}) {
    run->close_stdin();
    CHECK(finish(*run).exit_code == 0);
  }
}

TEST_CASE("run --json reports an exhausted pool as one JSON line on standard output, each port once") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto foreign = listen_on(ports[0]);
  auto config = shared_pool_config(dir, "web", ports.ports());
  auto result = run_portpool({"run", "--json", "--config", config.string(), "--lock-dir", dir.lock_dir().string(),
                              "web", "--", PORTPOOL_CLI_CHILD, "env"});
  CHECK(result.exit_code == 75);
  CHECK_THAT(result.err, Contains(std::to_string(ports[0]) + ": in use by a program outside portpool"));
  auto report = result.json();
  CHECK(report.at("error") == "pool_exhausted");
  CHECK(report.at("service") == "web");
  REQUIRE(report.at("refusals").size() == 1);
  CHECK(report.at("refusals")[0].at("port") == ports[0]);
  CHECK(report.at("refusals")[0].at("reason") == "in_use");
  CHECK(report.at("refusals")[0].at("holder").is_null());
}
