// `portpool run --socket --ready notify`: readiness from the notify protocol, shown by `status`,
// and reloads on SIGHUP that never refuse a connection.

#include "cli.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::answer_of;
using portpool::test::file_text;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::RunFixture;
using portpool::test::wait_until;
using namespace std::chrono_literals;

namespace {

constexpr const char* child = PORTPOOL_CLI_CHILD;

// CMD fails at once while the file `fail` exists, never gets ready while `stall` exists, and
// otherwise serves on descriptor 3 and says READY=1.
std::vector<std::string> switchable_server(const RunFixture& fixture) {
  auto dir = fixture.dir.path().string();
  return {"/bin/sh", "-c",
          "[ -e " + dir + "/fail ] && exit 1; [ -e " + dir + "/stall ] && exec " + child + " hold; exec " + child +
              " notify-serve"};
}

std::string readiness_of(const RunFixture& fixture) {
  auto listed = holders(fixture.dir.lock_dir());
  return listed.size() == 1 ? listed[0].value("readiness", std::string("<none>")) : "<no holder>";
}

// A client that connects again and again and sorts what happens.
class Client {
 public:
  explicit Client(std::uint16_t port) : port_(port), thread_([this] { run(); }) {}
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  Client(Client&&) = delete;
  Client& operator=(Client&&) = delete;
  ~Client() { stop(); }

  void stop() {
    running_.store(false);
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  std::set<std::string> answers() const {
    std::lock_guard guard(mutex_);
    return answers_;
  }
  int refused() const { return refused_.load(); }
  int broken() const { return broken_.load(); }
  int served() const { return served_.load(); }

 private:
  void run() {
    while (running_.load()) {
      portpool::UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      auto address = portpool::test::loopback(port_);
      if (::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        refused_.fetch_add(1);
        continue;
      }
      std::string answer;
      char buffer[128];
      ssize_t count = 0;
      while ((count = ::read(client.get(), buffer, sizeof buffer)) > 0) {
        answer.append(buffer, static_cast<std::size_t>(count));
      }
      if (count < 0 || answer.rfind("hello from ", 0) != 0) {
        broken_.fetch_add(1);  // reset, or closed without an answer
        continue;
      }
      served_.fetch_add(1);
      std::lock_guard guard(mutex_);
      answers_.insert(answer);
    }
  }

  std::uint16_t port_;
  std::atomic<bool> running_{true};
  std::atomic<int> refused_{0};
  std::atomic<int> broken_{0};
  std::atomic<int> served_{0};
  mutable std::mutex mutex_;
  std::set<std::string> answers_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("run --ready notify: status shows the holder starting, then ready once CMD sends READY=1") {
  RunFixture fixture;
  auto run = fixture.spawn({"--socket", "--ready", "notify"}, {child, "notify-serve"});
  auto line = run.read_line();
  REQUIRE(line);
  REQUIRE_THAT(*line, Catch::Matchers::StartsWith("SERVING "));
  CHECK(wait_until([&] { return readiness_of(fixture) == "ready"; }));
  auto text = portpool::test::run_portpool({"status", "--lock-dir", fixture.dir.lock_dir().string()});
  CHECK_THAT(text.out, Contains("READINESS") && Contains("ready"));
  run.signal(SIGTERM);
  CHECK(finish(run).exit_code == 0);

  auto silent = fixture.spawn({"--ready", "notify"}, {child, "hold"});
  REQUIRE(silent.read_line());
  CHECK(readiness_of(fixture) == "starting");
  silent.close_stdin();
  CHECK(finish(silent).exit_code == 0);
}

TEST_CASE("a reload (SIGHUP) under a client that keeps connecting: not one connection refused or reset") {
  RunFixture fixture;
  auto run = fixture.spawn({"--socket", "--ready", "notify", "--ready-timeout", "20s"}, switchable_server(fixture));
  auto line = run.read_line();
  REQUIRE(line);
  REQUIRE_THAT(*line, Catch::Matchers::StartsWith("SERVING "));
  auto first = line->substr(8);
  auto port = fixture.ports[0];
  REQUIRE(wait_until([&] { return readiness_of(fixture) == "ready"; }));

  Client client(port);
  REQUIRE(wait_until([&] { return client.served() > 20; }));
  run.signal(SIGHUP);
  auto second = run.read_line();
  REQUIRE(second);
  REQUIRE_THAT(*second, Catch::Matchers::StartsWith("SERVING "));
  auto replacement = "hello from " + second->substr(8) + "\n";
  CHECK(wait_until([&] { return client.answers().count(replacement) == 1; }));
  CHECK(wait_until([&] { return ::kill(std::stoi(first), 0) != 0; }));  // the old copy is gone
  auto served_after_reload = client.served();
  CHECK(wait_until([&] { return client.served() > served_after_reload + 20; }));
  client.stop();

  CHECK(client.refused() == 0);
  CHECK(client.broken() == 0);
  CHECK(client.answers() == std::set<std::string>{"hello from " + first + "\n", replacement});
  CHECK(readiness_of(fixture) == "ready");
  CHECK(holders(fixture.dir.lock_dir()).at(0).at("pid") == run.pid());
  run.signal(SIGTERM);
  CHECK(finish(run).exit_code == 0);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("a reload whose new copy fails or is not ready in time leaves the old copy serving") {
  RunFixture fixture;
  auto log = fixture.dir.path() / "stderr.log";
  auto run = portpool::test::spawn_portpool_logging(
      fixture.run_arguments({"--socket", "--ready", "notify", "--ready-timeout", "1s"}, switchable_server(fixture)),
      log);
  auto line = run.read_line();
  REQUIRE(line);
  auto serving = "hello from " + line->substr(8) + "\n";
  auto port = fixture.ports[0];
  REQUIRE(wait_until([&] { return readiness_of(fixture) == "ready"; }));

  std::ofstream(fixture.dir.path() / "fail").close();
  run.signal(SIGHUP);
  CHECK(
      wait_until([&] { return file_text(log).find("exited with status 1 before it was ready") != std::string::npos; }));
  CHECK(answer_of(port) == serving);

  std::filesystem::remove(fixture.dir.path() / "fail");
  std::ofstream(fixture.dir.path() / "stall").close();
  run.signal(SIGHUP);
  CHECK(run.read_line() == "READY " + std::to_string(port));  // the stalled copy runs, never ready
  CHECK(wait_until([&] { return file_text(log).find("did not send READY=1 within 1000 ms") != std::string::npos; }));
  CHECK(answer_of(port) == serving);
  CHECK(readiness_of(fixture) == "ready");
  CHECK_THAT(file_text(log), Contains("the current copy keeps serving"));

  run.signal(SIGTERM);
  CHECK(finish(run).exit_code == 0);
}

TEST_CASE("run --ready accept: the holder is starting until a connection to the port succeeds") {
  RunFixture fixture;
  auto listening = fixture.spawn({"--ready", "accept"}, {child, "listen"});
  REQUIRE(listening.read_line());
  CHECK(wait_until([&] { return readiness_of(fixture) == "ready"; }));
  listening.signal(SIGTERM);
  CHECK(finish(listening).exit_code == 42);

  auto silent = fixture.spawn({"--ready", "accept"}, {child, "hold"});
  REQUIRE(silent.read_line());
  CHECK_FALSE(wait_until([&] { return readiness_of(fixture) != "starting"; }, 500ms));
  silent.close_stdin();
  CHECK(finish(silent).exit_code == 0);

  auto refused = fixture.run({"--socket", "--ready", "accept"}, {child, "env"});
  CHECK(refused.exit_code == 64);
  CHECK_THAT(refused.err, Contains("with --socket, use --ready notify"));
}
