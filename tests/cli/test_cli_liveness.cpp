// `portpool run --liveness`: a server that stops answering on its port is restarted on the same
// port (and with --socket the same listening socket), a healthy one never is, and the registry
// shows the outcome of the last check.

#include "cli.hpp"
#include "http_client.hpp"
#include "skip.hpp"

#include <portpool/registry.hpp>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::file_text;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::RunFixture;
using portpool::test::wait_until;
using namespace std::chrono_literals;

namespace {

// An HTTP server that notes each start and each request it answers in LOG, on PORT or on the
// listening socket passed as descriptor 3; once the file TRIGGER exists, a request hangs it for
// good (alive, listening, never answering). A start removes TRIGGER: the next copy serves.
constexpr const char* http_server = R"(import http.server, os, socket, sys, time
port, trigger, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def note(line):
    with open(log, "a") as file:
        file.write(line + "\n")
if os.path.exists(trigger):
    os.remove(trigger)
note("start")
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if os.path.exists(trigger):
            time.sleep(3600)
        note("GET " + self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"alive\n")
    def log_message(self, *arguments):
        pass
if os.environ.get("LISTEN_FDS") == "1":
    server = http.server.HTTPServer(("127.0.0.1", port), Handler, bind_and_activate=False)
    server.socket = socket.socket(fileno=3)
else:
    server = http.server.HTTPServer(("127.0.0.1", port), Handler)
server.serve_forever()
)";

// A TCP server that notes each start and each connection in LOG; once TRIGGER exists it closes
// its listening socket and sleeps (alive, no longer listening).
constexpr const char* tcp_server = R"(import os, socket, sys, time
port, trigger, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def note(line):
    with open(log, "a") as file:
        file.write(line + "\n")
listener = socket.create_server(("127.0.0.1", port))
listener.settimeout(0.01)
note("start")
while not os.path.exists(trigger):
    try:
        connection, _ = listener.accept()
        connection.close()
        note("connection")
    except socket.timeout:
        pass
listener.close()
time.sleep(3600)
)";

std::optional<std::string> python() {
  const char* variable = std::getenv("PATH");
  std::istringstream path(variable != nullptr ? variable : "");
  for (std::string directory; std::getline(path, directory, ':');) {
    auto candidate = std::filesystem::path(directory) / "python3";
    if (!directory.empty() && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
  }
  return std::nullopt;
}

std::size_t lines_of(const std::filesystem::path& log, const std::string& line) {
  std::istringstream text(file_text(log));
  std::size_t count = 0;
  for (std::string read; std::getline(text, read);) {
    count += read == line ? 1 : 0;
  }
  return count;
}

// What the registry shows of the last check: the metadata entry "liveness" of the only holder.
std::string liveness_of(const RunFixture& fixture) {
  auto listed = portpool::Registry::holders(fixture.dir.lock_dir());
  if (listed.size() != 1) {
    return "no holder";
  }
  auto entry = listed[0].description.metadata.find("liveness");
  return entry == listed[0].description.metadata.end() ? "none" : entry->second;
}

struct Server {
  std::string program;
  std::filesystem::path script;
  std::filesystem::path trigger;
  std::filesystem::path log;

  std::vector<std::string> command() const {
    return {program, script.string(), "{port}", trigger.string(), log.string()};
  }
  void hang() const { std::ofstream(trigger).close(); }
};

Server server_in(const RunFixture& fixture, const std::string& python_program, const char* source) {
  Server server{python_program, fixture.dir.path() / "server.py", fixture.dir.path() / "hang",
                fixture.dir.path() / "log"};
  std::ofstream(server.script) << source;
  return server;
}

}  // namespace

TEST_CASE("run --liveness http:PATH restarts a server that stops answering, on the same port, and it serves again") {
  auto python_program = python();
  if (!python_program) {
    PORTPOOL_SKIP("needs python3 for a server that can hang");
  }
  bool socket = GENERATE(false, true);
  INFO("--socket: " << socket);
  RunFixture fixture;
  auto server = server_in(fixture, *python_program, http_server);
  constexpr auto interval = 200ms;
  constexpr int failures = 3;
  std::vector<std::string> options{
      "--liveness",   "http:/health", "--liveness-interval", "200ms", "--liveness-failures", "3",
      "--kill-grace", "1s",           "--restart-delay",     "100ms"};
  if (socket) {
    options.emplace_back("--socket");
  }
  auto errors = fixture.dir.path() / "errors";
  auto run = portpool::test::spawn_portpool_logging(fixture.run_arguments(options, server.command()), errors);
  REQUIRE(wait_until([&] { return liveness_of(fixture) == "ok"; }));
  auto before = holders(fixture.dir.lock_dir());
  REQUIRE(before.size() == 1);
  auto port = before[0].at("port").get<std::uint16_t>();
  CHECK(before[0].at("meta").at("liveness") == "ok");  // what `status --json` shows
  CHECK(lines_of(server.log, "start") == 1);

  server.hang();
  auto hung = std::chrono::steady_clock::now();
  auto stopping =
      fmt::format("liveness check failed 3 times in a row: no answer on port {} within 200ms; stopping CMD", port);
  REQUIRE(wait_until([&] { return file_text(errors).find(stopping) != std::string::npos; }));
  // The bound: the first failing check may start up to an interval after the hang, and fails an
  // interval later; `failures` of them in a row end CMD. A figure, since a loaded machine moves it.
  std::cout << fmt::format(
      "liveness: CMD stopped {} ms after it hung (bound {} ms)\n",
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - hung).count(),
      ((failures + 1) * interval).count());
  REQUIRE(wait_until([&] { return lines_of(server.log, "start") == 2; }));
  REQUIRE(wait_until([&] { return liveness_of(fixture) == "ok"; }));
  CHECK_THAT(portpool::test::raw_exchange(port, "GET / HTTP/1.0\r\n\r\n"), Contains("alive"));
  auto after = holders(fixture.dir.lock_dir());
  REQUIRE(after.size() == 1);
  CHECK(after[0].at("port") == port);
  CHECK(after[0].at("pid") == before[0].at("pid"));  // the same `portpool`, which held the port throughout

  run.signal(SIGTERM);
  auto result = finish(run);
  CHECK(result.exit_code == 128 + SIGTERM);
  CHECK_THAT(file_text(errors), Contains(fmt::format("restarting it (1 of no limit), port {} stays held", port)));
  CHECK(lines_of(server.log, "start") == 2);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run --liveness never restarts a server that keeps answering") {
  auto python_program = python();
  if (!python_program) {
    PORTPOOL_SKIP("needs python3 for the server");
  }
  RunFixture fixture;
  auto server = server_in(fixture, *python_program, http_server);
  auto run = fixture.spawn({"--liveness", "http:/health", "--liveness-interval", "100ms", "--liveness-failures", "2"},
                           server.command());
  REQUIRE(wait_until([&] { return lines_of(server.log, "GET /health") >= 12; }, 60s));
  CHECK(liveness_of(fixture) == "ok");
  run.signal(SIGTERM);
  auto result = finish(run);
  CHECK(result.exit_code == 128 + SIGTERM);
  CHECK(lines_of(server.log, "start") == 1);
  CHECK_THAT(result.err, !Contains("liveness check failed") && !Contains("restarting"));
}

TEST_CASE("run --liveness tcp: a server that stops listening is stopped, and --max-restarts bounds the restarts") {
  auto python_program = python();
  if (!python_program) {
    PORTPOOL_SKIP("needs python3 for a server that can stop listening");
  }
  RunFixture fixture;
  auto server = server_in(fixture, *python_program, tcp_server);
  auto run = fixture.spawn({"--liveness", "tcp", "--liveness-interval", "100ms", "--liveness-failures", "2",
                            "--max-restarts", "0", "--restart", "always"},
                           server.command());
  REQUIRE(wait_until([&] { return lines_of(server.log, "connection") >= 3; }, 60s));
  CHECK(liveness_of(fixture) == "ok");
  server.hang();
  auto result = finish(run);
  CHECK(result.exit_code == 128 + SIGTERM);
  CHECK_THAT(result.err, Contains("liveness check failed 2 times in a row: cannot connect to port") &&
                             Contains("CMD is not restarted: --max-restarts 0 reached"));
  CHECK(lines_of(server.log, "start") == 1);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run --liveness: a server slow to start is not restarted within its start period") {
  RunFixture fixture;
  // Listens only once its standard input closes: until then every check fails, uncounted.
  auto run = fixture.spawn(
      {"--liveness", "tcp", "--liveness-interval", "50ms", "--liveness-failures", "1", "--liveness-start-period", "1m"},
      {"/bin/sh", "-c", std::string("read line; exec ") + PORTPOOL_CLI_CHILD + " listen"});
  REQUIRE(wait_until([&] { return liveness_of(fixture).rfind("starting (last check: cannot connect", 0) == 0; }));
  std::this_thread::sleep_for(500ms);  // ten checks that fail, and would restart CMD if they counted
  CHECK(liveness_of(fixture).rfind("starting (last check: ", 0) == 0);
  run.close_stdin();
  REQUIRE(wait_until([&] { return liveness_of(fixture) == "ok"; }));
  run.signal(SIGTERM);
  auto result = finish(run);
  CHECK_THAT(result.err, !Contains("liveness check failed"));
}

TEST_CASE("run --liveness options are validated: 64 with a clear message, nothing taken") {
  RunFixture fixture;
  struct Case {
    std::vector<std::string> options;
    std::string message;
  };
  std::vector<std::string> full_metadata{"--liveness", "tcp"};
  for (int entry = 0; entry < 16; ++entry) {
    full_metadata.emplace_back("--meta");
    full_metadata.push_back(fmt::format("key{}=value", entry));
  }
  for (const auto& [options, message] : std::vector<Case>{
           {{"--liveness", "udp"}, "--liveness udp is not a check: give http:PATH"},
           {{"--liveness", "http:health"}, "--liveness http:health: the path must start with '/'"},
           {{"--liveness", "tcp", "--socket"}, "with --socket, use --liveness http:PATH"},
           {{"--liveness", "tcp", "--liveness-failures", "0"},
            "--liveness-failures 0 is not a number of failed checks"},
           {{"--liveness", "tcp", "--liveness-failures", "some"}, "--liveness-failures some is not a number"},
           {{"--liveness", "tcp", "--liveness-interval", "fast"}, "--liveness-interval fast is not a duration"},
           {{"--liveness", "tcp", "--liveness-interval", "0ms"}, "--liveness-interval 0ms is too short"},
           {{"--liveness", "tcp", "--liveness-start-period", "soon"}, "--liveness-start-period soon is not a duration"},
           {{"--liveness-failures", "2"}, "--liveness-failures is for --liveness, which is not given"},
           {{"--liveness", "tcp", "--meta", "liveness=fine"}, "the metadata key 'liveness' is where --liveness"},
           {full_metadata, "the description of 'web' has no room for it: 17 metadata entries are too many"}}) {
    auto result = fixture.run(options, {PORTPOOL_CLI_CHILD, "env"});
    INFO(result.err);
    CHECK(result.exit_code == 64);
    CHECK_THAT(result.err, Contains(message) && Contains("see 'portpool --help'"));
    CHECK(result.out.empty());
  }
  CHECK_FALSE(std::filesystem::exists(fixture.dir.lock_dir()));
}
