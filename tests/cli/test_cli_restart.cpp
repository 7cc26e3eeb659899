// `portpool run --restart`: CMD started again while the port (and with --socket the very same
// listening socket) stays held, so that nothing else can take it between two runs.

#include "cli.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::ready_port;
using portpool::test::RunFixture;
using namespace std::chrono_literals;

namespace {

constexpr const char* child = PORTPOOL_CLI_CHILD;

// What a server started the moment the port looked free would do: bind and listen, with
// SO_REUSEADDR as servers set it.
bool take_port(std::uint16_t port) {
  portpool::UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int reuse = 1;
  ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  return portpool::test::bind_loopback(socket.get(), port) && ::listen(socket.get(), 1) == 0;
}

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("run --socket --restart always: every run gets the same socket, and a racing program never the port") {
  RunFixture fixture;
  auto port = fixture.ports[0];
  // Four runs that exit at once, then one that holds until its standard input closes.
  auto counter = fixture.dir.path() / "runs";
  auto script = "n=$(cat " + counter.string() + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + counter.string() +
                "; [ $n -ge 5 ] && exec " + child + " hold; exec " + child + " env";
  auto run = fixture.spawn({"--socket", "--restart", "always", "--max-restarts", "4", "--restart-delay", "100ms"},
                           {"/bin/sh", "-c", script});
  REQUIRE(run.read_line() == "PORT=" + std::to_string(port));
  // From the first run on, until the last run has said all it had to say: portpool holds the
  // port throughout, restarts and delays included.
  std::atomic<bool> racing{true};
  std::atomic<int> attempts{0};
  std::atomic<int> stolen{0};
  std::thread racer([&] {
    while (racing.load()) {
      attempts.fetch_add(1);
      if (take_port(port)) {
        stolen.fetch_add(1);
      }
    }
  });
  std::string output = "PORT=" + std::to_string(port) + "\n";
  while (auto line = run.read_line()) {
    output += *line + "\n";
    if (line->rfind("READY ", 0) == 0) {
      break;
    }
  }
  racing.store(false);
  racer.join();
  run.close_stdin();
  auto result = finish(run);
  CHECK(result.exit_code == 0);
  CHECK(count_of(output, "\nPORTPOOL_PORT=" + std::to_string(port) + "\n") == 4);
  CHECK(count_of(output, "LISTEN_PID_IS_MINE=yes\n") == 4);
  CHECK(count_of(output, "READY " + std::to_string(port) + "\n") == 1);
  CHECK(count_of(result.err, "restarting it") == 4);
  CHECK_THAT(result.err, Contains("(4 of 4), port " + std::to_string(port) + " stays held"));
  CHECK(attempts.load() > 10);
  CHECK(stolen.load() == 0);
  CHECK(take_port(port));  // the racer could have: the port is free now
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("run --restart on-failure restarts a failing CMD until it exits 0, and --max-restarts bounds it") {
  RunFixture fixture;
  auto counter = fixture.dir.path() / "runs";
  auto script = "n=$(cat " + counter.string() + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + counter.string() +
                "; echo run $n; [ $n -ge 3 ] && exit 0; exit 3";
  auto recovered = fixture.run({"--restart", "on-failure", "--restart-delay", "10ms"}, {"/bin/sh", "-c", script});
  CHECK(recovered.exit_code == 0);
  CHECK(recovered.out == "run 1\nrun 2\nrun 3\n");
  CHECK(count_of(recovered.err, "restarting it") == 2);

  auto bounded = fixture.run({"--restart", "always", "--max-restarts", "1", "--restart-delay", "0s"},
                             {"/bin/sh", "-c", "echo once; exit 5"});
  CHECK(bounded.exit_code == 5);
  CHECK(bounded.out == "once\nonce\n");

  auto clean = fixture.run({"--restart", "on-failure"}, {"/bin/sh", "-c", "echo once; exit 0"});
  CHECK(clean.exit_code == 0);
  CHECK(clean.out == "once\n");
}

TEST_CASE("run --restart: a stop signal to portpool ends it without another run") {
  RunFixture fixture;
  auto run = fixture.spawn({"--restart", "always", "--restart-delay", "10ms"}, {child, "signals"});
  REQUIRE(ready_port(run));
  run.signal(SIGTERM);
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGTERM));
  auto result = finish(run);
  CHECK(result.exit_code == 42);
  CHECK(result.out.empty());
  CHECK_THAT(result.err, !Contains("restarting"));
}

TEST_CASE("run's new options are validated: 64 with a clear message") {
  RunFixture fixture;
  struct Case {
    std::vector<std::string> options;
    std::string message;
  };
  for (const auto& [options, message] :
       std::vector<Case>{{{"--kill-grace", "soon"}, "--kill-grace soon is not a duration"},
                         {{"--kill-grace", "5 s"}, "is not a duration"},
                         {{"--restart-delay", "-1s"}, "--restart-delay -1s is not a duration"},
                         {{"--restart-delay", "1.s"}, "--restart-delay 1.s is not a duration"},
                         {{"--restart-delay", ".5s"}, "--restart-delay .5s is not a duration"},
                         {{"--restart-delay", "1.5.1s"}, "--restart-delay 1.5.1s is not a duration"},
                         {{"--kill-grace", "1.0005s"}, "--kill-grace 1.0005s is finer than a millisecond"},
                         {{"--kill-grace", "23.9999999999h"}, "is finer than a millisecond"},
                         {{"--kill-grace", "24.5h"}, "at most 24h"},
                         {{"--restart-delay", "25h"}, "at most 24h"},
                         {{"--restart", "sometimes"}, "--restart"},
                         {{"--max-restarts", "many"}, "--max-restarts"},
                         {{"--max-restarts=-5"}, "--max-restarts -5 is negative"}}) {
    auto result = fixture.run(options, {child, "env"});
    INFO(result.err);
    CHECK(result.exit_code == 64);
    CHECK_THAT(result.err, Contains(message) && Contains("see 'portpool --help'"));
    CHECK(result.out.empty());
  }
  CHECK_FALSE(std::filesystem::exists(fixture.dir.lock_dir()));
}
