// `portpool run --forking [--pid-file PATH]`: daemons that fork (systemd's Type=forking). CMD's exit
// with status 0 ends the start-up; the service is what it leaves running, followed through the keeper
// until it ends; a pid file names the main process, which gets the signals and whose end ends the
// service. Real daemons: a double-forking shell script, nginx in its default daemon mode,
// redis-server --daemonize yes.

#include "cli.hpp"
#include "http_client.hpp"
#include "skip.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::accepts_connections;
using portpool::test::file_text;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::ready_port;
using portpool::test::RunFixture;
using portpool::test::wait_until;

namespace {

constexpr const char* child = PORTPOOL_CLI_CHILD;
constexpr const char* python = "/usr/bin/python3";

std::string readiness_of(const RunFixture& fixture) {
  auto listed = holders(fixture.dir.lock_dir());
  return listed.size() == 1 ? listed[0].value("readiness", std::string("<none>")) : "<no holder>";
}

bool serves_http(std::uint16_t port) {
  try {
    return portpool::test::http_get(port, "/").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

// A shell script that starts `daemon` twice forked (a subshell that exits, and setsid), then exits
// 0; with a `pid_file`, the subshell writes the daemon's pid to it.
std::vector<std::string> double_forking_script(const std::string& daemon, const std::string& pid_file = {}) {
  auto write_pid = pid_file.empty() ? std::string() : " echo $! > '" + pid_file + "'";
  return {"/bin/sh", "-c", "(setsid " + daemon + " &" + write_pid + "); exit 0"};
}

std::string python_http_server() {
  return std::string(python) + " -m http.server --bind 127.0.0.1 {port} >/dev/null 2>&1 </dev/null";
}

// The holder is "ready" once the keeper saw CMD exit 0 (and read the pid file): from then on the
// service is what CMD left.
void check_started_up(const RunFixture& fixture) {
  CHECK(wait_until([&] { return readiness_of(fixture) == "ready"; }));
}

void check_gone(const RunFixture& fixture, std::uint16_t port) {
  CHECK_FALSE(accepts_connections(port));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

}  // namespace

TEST_CASE("run --forking: a double-forking script's daemon serves after the script exits, until SIGTERM ends it") {
  if (!std::filesystem::exists(python)) {
    PORTPOOL_SKIP("python3 is not installed at /usr/bin/python3");
  }
  RunFixture fixture;
  const auto port = fixture.ports[0];
  auto pid_file = (fixture.dir.path() / "http.pid").string();
  for (const auto& [options, command] :
       {std::pair{std::vector<std::string>{"--forking"}, double_forking_script(python_http_server())},
        std::pair{std::vector<std::string>{"--forking", "--pid-file", pid_file},
                  double_forking_script(python_http_server(), pid_file)}}) {
    INFO(command.back());
    auto run = fixture.spawn(options, command);
    REQUIRE(wait_until([&] { return serves_http(port); }));
    check_started_up(fixture);
    CHECK(serves_http(port));  // the script has exited; its daemon is the service
    run.signal(SIGTERM);       // forwarded to the daemon (the top of the tree, or the pid file's process)
    auto result = finish(run);
    CHECK(result.exit_code == 128 + SIGTERM);  // the daemon's status: killed by SIGTERM
    check_gone(fixture, port);
  }
}

TEST_CASE("run --forking --pid-file: signals go to the main process, whose end ends the rest of the tree") {
  RunFixture fixture;
  auto pid_file = fixture.dir.path() / "main.pid";
  auto other_pid_file = fixture.dir.path() / "other.pid";
  // The main process reports the signals it gets; a second process of the tree only sleeps.
  auto run = fixture.spawn({"--forking", "--pid-file", pid_file.string()},
                           {"/bin/sh", "-c",
                            std::string(child) + " signals & echo $! > '" + pid_file.string() +
                                "'; sleep 1000 & echo $! > '" + other_pid_file.string() + "'; exit 0"});
  REQUIRE(ready_port(run));
  check_started_up(fixture);
  const auto other = static_cast<pid_t>(std::stol(file_text(other_pid_file)));
  for (int number : {SIGHUP, SIGUSR1}) {
    run.signal(number);
    CHECK(run.read_line() == "SIGNAL " + std::to_string(number));
  }
  CHECK(::kill(other, 0) == 0);  // SIGHUP went to the main process only
  run.signal(SIGTERM);
  CHECK(run.read_line() == "SIGNAL 15");  // the main process exits 42
  auto result = finish(run);              // the end of output: the sleeping process, which shares it, is gone too
  CHECK(result.exit_code == 42);
  CHECK_THAT(result.err, Contains("the main process (pid") && Contains("ended with status 42; ending the 1 process"));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run --forking: CMD exiting 0 and leaving nothing ends run, a non-zero exit is a failed start") {
  RunFixture fixture;
  auto nothing_left = fixture.run({"--forking"}, {"true"});
  CHECK(nothing_left.exit_code == 0);
  CHECK_THAT(nothing_left.err, Contains("no process of its tree is left"));

  // The sleeping process shares the output: its end is seen.
  auto failed = fixture.run({"--forking"}, {"/bin/sh", "-c", "setsid sleep 1000 & exit 3"});
  CHECK(failed.exit_code == 3);
  CHECK_THAT(failed.err, Contains("CMD ended with status 3 during its start-up") && Contains("the start failed") &&
                             Contains("ending the 1 process it left"));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run --forking --pid-file refuses a pid file that is a link, not a regular file, or names a stranger") {
  RunFixture fixture;
  const auto directory = fixture.dir.path();
  auto real = directory / "real.pid";
  auto marker = directory / "started";
  std::ofstream(real) << ::getpid() << '\n';

  SECTION("found before CMD starts: a usage error, nothing is taken or run") {
    auto link = directory / "link.pid";
    std::filesystem::create_symlink(real, link);
    auto fifo = directory / "fifo.pid";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (const auto& [path, message] : {std::pair{link, "is a symbolic link"}, std::pair{fifo, "is a named pipe"},
                                        std::pair{directory, "is a directory"}}) {
      INFO(path.string());
      auto result = fixture.run({"--forking", "--pid-file", path.string()}, {"touch", marker.string()});
      CHECK(result.exit_code == 64);
      CHECK_THAT(result.err, Contains(message));
      CHECK_FALSE(std::filesystem::exists(marker));
    }
  }

  SECTION("written by CMD's start-up: refused, and what the start-up left is ended") {
    auto link = (directory / "link.pid").string();
    auto pid_file = (directory / "daemon.pid").string();
    // The sleeping daemon shares the output, so that the end of output shows it ended.
    for (const auto& [script, message] :
         {std::pair{"setsid sleep 1000 & echo $! > '" + real.string() + "'; ln -s '" + real.string() + "' '" + link +
                        "'; exit 0",
                    std::string("is a symbolic link")},
          std::pair{"setsid sleep 1000 & echo 1 > '" + pid_file + "'; exit 0", std::string("names pid 1 (")},
          std::pair{"setsid sleep 1000 & echo " + std::to_string(::getpid()) + " > '" + pid_file + "'; exit 0",
                    "names pid " + std::to_string(::getpid())}}) {
      INFO(script);
      std::filesystem::remove(pid_file);
      auto path = script.find(link) == std::string::npos ? pid_file : link;
      auto result = fixture.run({"--forking", "--pid-file", path}, {"/bin/sh", "-c", script});
      CHECK(result.exit_code == 64);
      CHECK_THAT(result.err, Contains(message));
      if (path == pid_file) {
        CHECK_THAT(result.err, Contains("which is not a process of CMD's tree"));
      }
      CHECK_THAT(result.err, Contains("ending the processes CMD's start-up left"));
    }
  }
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run --forking --pid-file: a pid file that never appears ends run with 64 after --ready-timeout") {
  RunFixture fixture;
  auto pid_file = fixture.dir.path() / "never.pid";
  auto result = fixture.run({"--forking", "--pid-file", pid_file.string(), "--ready-timeout", "300ms"},
                            {"/bin/sh", "-c", "setsid sleep 1000 & exit 0"});
  CHECK(result.exit_code == 64);
  CHECK_THAT(result.err, Contains("300 ms after CMD's start-up ended (--ready-timeout)") &&
                             Contains("does not exist") && Contains("ending the processes"));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run --forking usage errors: --pid-file without --forking, --ready with --forking") {
  RunFixture fixture;
  for (const auto& [options, message] :
       {std::pair{std::vector<std::string>{"--pid-file", "x.pid"}, "add --forking"},
        std::pair{std::vector<std::string>{"--forking", "--ready", "notify"}, "--ready does not apply with --forking"},
        std::pair{std::vector<std::string>{"--forking", "--ready", "accept"},
                  "--ready does not apply with --forking"}}) {
    auto result = fixture.run(options, {"true"});
    CHECK(result.exit_code == 64);
    CHECK_THAT(result.err, Contains(message));
  }
}

TEST_CASE("run --forking --restart: the service is started again when it ends, and SIGHUP is no stop request") {
  RunFixture fixture;
  auto pid_file = fixture.dir.path() / "listen.pid";
  auto run =
      fixture.spawn({"--forking", "--pid-file", pid_file.string(), "--restart", "always", "--restart-delay", "0s"},
                    double_forking_script(std::string(child) + " listen", pid_file.string()));
  auto port = ready_port(run);
  REQUIRE(port);
  pid_t main_process = 0;
  auto next_main_process = [&] {
    auto previous = main_process;
    CHECK(wait_until([&] {
      auto text = file_text(pid_file);
      main_process = text.empty() ? 0 : static_cast<pid_t>(std::stol(text));
      return main_process != 0 && main_process != previous && readiness_of(fixture) == "ready";
    }));
  };
  next_main_process();
  ::kill(main_process, SIGKILL);
  CHECK(ready_port(run) == port);  // the restarted daemon, on the same port
  next_main_process();
  run.signal(SIGHUP);  // forwarded to the daemon, which dies of it: a reload gone wrong, not a stop
  CHECK(ready_port(run) == port);
  next_main_process();
  run.signal(SIGTERM);  // a stop: no restart
  CHECK(run.read_line() == "SIGNAL 15");
  auto result = finish(run);
  CHECK(result.exit_code == 42);
  CHECK_THAT(result.err, Contains("the service (what CMD's start-up left) ended with status 137; restarting CMD (1 of "
                                  "no limit)") &&
                             Contains("ended with status 129; restarting CMD (2 of no limit)"));
  check_gone(fixture, *port);
}

TEST_CASE("run --forking: a lost port or portpool's death ends the daemon as without --forking") {
  RunFixture fixture;
  SECTION("the lock file deleted: SIGTERM to the daemon, SIGKILL after --kill-grace") {
    auto run = fixture.spawn({"--forking", "--kill-grace", "300ms"},
                             double_forking_script(std::string(child) + " listen-stubborn"));
    auto port = ready_port(run);
    REQUIRE(port);
    check_started_up(fixture);
    std::filesystem::remove(fixture.dir.lock_dir() / ("port-" + std::to_string(*port) + ".lock"));
    CHECK(run.read_line() == "SIGTERM IGNORED");
    auto result = finish(run);
    CHECK(result.exit_code == 69);
    CHECK_THAT(result.err, Contains("is lost") && Contains("stopping the command (SIGTERM)") &&
                               Contains("after its port was lost; exiting 69"));
    CHECK_FALSE(accepts_connections(*port));
  }
  SECTION("portpool killed by SIGKILL: the keeper ends the daemon") {
    auto run = fixture.spawn({"--forking"}, double_forking_script(std::string(child) + " listen"));
    auto port = ready_port(run);
    REQUIRE(port);
    check_started_up(fixture);
    run.signal(SIGKILL);
    CHECK(run.read_line() == "SIGNAL 15");
    finish(run);
    CHECK(wait_until([&] { return !accepts_connections(*port) && holders(fixture.dir.lock_dir()).empty(); }));
  }
}

TEST_CASE("nginx in its default daemon mode under run --forking --pid-file: serves, reloads on SIGHUP, stops") {
  const std::filesystem::path nginx = "/usr/sbin/nginx";
  if (!std::filesystem::exists(nginx)) {
    PORTPOOL_SKIP("nginx is not installed (Debian: apt-get install nginx-light)");
  }
  RunFixture fixture;
  const auto directory = fixture.dir.path();
  const auto pid_file = directory / "nginx.pid";
  // No "daemon off;": nginx forks its master process and the command exits.
  std::ofstream(directory / "nginx.conf.in")
      << "pid " << pid_file.string()
      << ";\nevents {}\nhttp {\n  access_log off;\n  server {\n    listen 127.0.0.1:{port};\n"
         "    location / { return 200 \"first on {port}\\n\"; }\n  }\n}\n";
  auto config = directory / "nginx.conf";
  auto server = fixture.spawn({"--forking", "--pid-file", pid_file.string(), "--template",
                               (directory / "nginx.conf.in").string() + ":" + config.string()},
                              {nginx.string(), "-e", "stderr", "-p", directory.string(), "-c", config.string()});
  const auto port = fixture.ports[0];
  auto answer = [port] {
    try {
      return portpool::test::http_get(port, "/").body;
    } catch (const std::exception&) {
      return std::string();
    }
  };
  const auto first = "first on " + std::to_string(port) + "\n";
  REQUIRE(wait_until([&] { return answer() == first; }));
  check_started_up(fixture);

  auto text = file_text(config);
  text.replace(text.find("first"), 5, "second");
  std::ofstream(config) << text;
  server.signal(SIGHUP);  // forwarded to nginx's master process, which reloads its configuration
  CHECK(wait_until([&] { return answer() == "second on " + std::to_string(port) + "\n"; }));

  server.signal(SIGTERM);
  CHECK(finish(server).exit_code == 0);  // the master process's status
  check_gone(fixture, port);
  CHECK_FALSE(std::filesystem::exists(pid_file));  // nginx removed it: it stopped cleanly
}

TEST_CASE("redis-server --daemonize yes under run --forking --pid-file: answers PING on its port, stops on SIGTERM") {
  const std::filesystem::path redis = "/usr/bin/redis-server";
  if (!std::filesystem::exists(redis)) {
    PORTPOOL_SKIP("redis-server is not installed (Debian: apt-get install redis-server)");
  }
  RunFixture fixture;
  const auto directory = fixture.dir.path();
  const auto pid_file = directory / "redis.pid";
  // Nothing persisted, everything in the test's directory.
  auto server = fixture.spawn({"--forking", "--pid-file", pid_file.string()},
                              {redis.string(), "--daemonize", "yes", "--port", "{port}", "--bind", "127.0.0.1",
                               "--pidfile", pid_file.string(), "--dir", directory.string(), "--save", "",
                               "--appendonly", "no", "--logfile", (directory / "redis.log").string()});
  const auto port = fixture.ports[0];
  auto ping = [port] {
    try {
      return portpool::test::raw_exchange(port, "PING\r\n");
    } catch (const std::exception&) {
      return std::string();
    }
  };
  REQUIRE(wait_until([&] { return ping() == "+PONG\r\n"; }));
  check_started_up(fixture);
  server.signal(SIGTERM);
  CHECK(finish(server).exit_code == 0);
  check_gone(fixture, port);
  CHECK_FALSE(std::filesystem::exists(pid_file));  // redis removed it: it shut down cleanly
  CHECK_THAT(file_text(directory / "redis.log"), Contains("ready to exit"));
}
