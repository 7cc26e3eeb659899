// `portpool run` and CMD's process tree: launchers whose child listens, daemons, signals sent to a
// whole process group, portpool killed, hostile signal settings.

#include "cli.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::accepts_connections;
using portpool::test::answer_of;
using portpool::test::ChildProcess;
using portpool::test::file_text;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::portpool_command;
using portpool::test::ready_port;
using portpool::test::RunFixture;
using portpool::test::status_lists;
using portpool::test::wait_until;
using namespace std::chrono_literals;

namespace {

constexpr const char* child = PORTPOOL_CLI_CHILD;

// A shell that runs the listener as its child (no exec) and would say "done" after it.
std::vector<std::string> shell_wrapper(const std::string& mode) {
  return {"/bin/sh", "-c", std::string(child) + " " + mode + "; echo done"};
}

// The listener is a descendant of CMD: the shield must not take it for another program's. It
// checks once a second, so two quiet seconds are two checks.
void check_listener_is_the_services(const RunFixture& fixture, const std::filesystem::path& log, std::uint16_t port) {
  CHECK_FALSE(wait_until([&] { return !file_text(log).empty(); }, 2500ms));
  CHECK(status_lists(fixture.dir.lock_dir(), port));
  CHECK(answer_of(port) == "hello from " + std::to_string(port) + "\n");
}

// What a terminal shows, read from its master side.
class Terminal {
 public:
  explicit Terminal(int master) : master_(master) {}

  void type(const char* keys) const { static_cast<void>(::write(master_.get(), keys, std::strlen(keys))); }

  // Waits until the screen shows `text` `times` times in all.
  bool shows(const std::string& text, std::size_t times = 1) {
    return wait_until([&] {
      char buffer[256];
      pollfd ready{master_.get(), POLLIN, 0};
      if (::poll(&ready, 1, 50) > 0) {
        auto count = ::read(master_.get(), buffer, sizeof buffer);
        if (count > 0) {
          screen_.append(buffer, static_cast<std::size_t>(count));
        }
      }
      return occurrences(text) >= times;
    });
  }

  std::size_t occurrences(const std::string& text) const {
    std::size_t count = 0;
    for (auto at = screen_.find(text); at != std::string::npos; at = screen_.find(text, at + 1)) {
      ++count;
    }
    return count;
  }

 private:
  portpool::UniqueFd master_;
  std::string screen_;
};

ChildProcess spawn_in_own_session(const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{"/usr/bin/setsid", portpool_command()};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return ChildProcess::spawn(argv);
}

}  // namespace

TEST_CASE("an sh -c wrapper without exec: its child's listener is the service's, SIGTERM ends the whole tree") {
  RunFixture fixture;
  auto log = fixture.dir.path() / "stderr.log";
  auto run = portpool::test::spawn_portpool_logging(fixture.run_arguments({}, shell_wrapper("listen")), log);
  auto port = ready_port(run);
  REQUIRE(port);
  check_listener_is_the_services(fixture, log, *port);
  run.signal(SIGTERM);
  auto result = finish(run);  // the end of output: every process of the tree has closed it
  CHECK(result.exit_code == 128 + SIGTERM);
  CHECK(result.out == "SIGNAL 15\n");
  CHECK_FALSE(accepts_connections(*port));
  CHECK(holders(fixture.dir.lock_dir()).empty());
  CHECK(file_text(log).empty());
}

TEST_CASE("a double-forking launcher: the daemon's listener is the service's, and it ends with the launcher") {
  RunFixture fixture;
  auto log = fixture.dir.path() / "stderr.log";
  auto run =
      portpool::test::spawn_portpool_logging(fixture.run_arguments({}, {child, "daemonize", child, "listen"}), log);
  auto port = ready_port(run);
  REQUIRE(port);
  check_listener_is_the_services(fixture, log, *port);
  run.signal(SIGTERM);  // reaches the launcher's process group, which the daemon left
  auto result = finish(run);
  CHECK(result.exit_code == 128 + SIGTERM);
  CHECK(result.out == "SIGNAL 15\n");  // the daemon, told to stop once the launcher was gone
  CHECK_FALSE(accepts_connections(*port));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("when CMD exits, what it left behind gets SIGTERM, then SIGKILL after --kill-grace") {
  RunFixture fixture;
  auto run = fixture.spawn({"--kill-grace", "1s"}, {child, "daemonize", child, "listen-stubborn"});
  auto port = ready_port(run);
  REQUIRE(port);
  // The grace cannot begin before the launcher exits, so a slow machine only lengthens the time
  // measured from here, and a SIGKILL sent before the grace is over still shows.
  auto started = std::chrono::steady_clock::now();
  run.close_stdin();  // the launcher exits 0; the daemon ignores SIGTERM
  auto result = finish(run);
  CHECK(result.exit_code == 0);
  CHECK(std::chrono::steady_clock::now() - started >= 1s);
  CHECK_FALSE(accepts_connections(*port));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("when CMD exits and leaves a daemon behind, run says on standard error that it ends it") {
  RunFixture fixture;
  auto log = fixture.dir.path() / "stderr.log";
  auto run = portpool::test::spawn_portpool_logging(
      fixture.run_arguments({"--kill-grace", "100ms"}, {child, "daemonize", child, "listen"}), log);
  REQUIRE(ready_port(run));
  run.close_stdin();  // the launcher exits 0
  CHECK(finish(run).exit_code == 0);
  CHECK_THAT(file_text(log),
             Contains("CMD exited with status 0 and left 1 process behind") && Contains("must stay in the foreground"));
}

TEST_CASE("portpool killed by SIGKILL: the keeper ends CMD's whole tree, daemons included") {
  RunFixture fixture;
  for (const auto& command : {shell_wrapper("listen"), std::vector<std::string>{child, "daemonize", child, "listen"}}) {
    auto run = fixture.spawn({}, command);
    auto port = ready_port(run);
    REQUIRE(port);
    run.signal(SIGKILL);
    CHECK(run.read_line() == "SIGNAL 15");
    auto result = finish(run);
    CHECK(result.exit_code == 128 + SIGKILL);
    CHECK(wait_until([&] { return !accepts_connections(*port); }));
    CHECK(holders(fixture.dir.lock_dir()).empty());
  }
}

// The keeper is a subreaper: a process of the tree whose parent dies becomes its child. It may
// exit only once it has no child left; processes forked while the tree is being ended, after the
// keeper looked for the tree's processes, must be found and ended too.
TEST_CASE("a tree that keeps forking while it is ended: no process of it outlives portpool") {
  RunFixture fixture;
  auto run = fixture.spawn({"--kill-grace", "100ms"}, {child, "daemonize", child, "fork-storm"});
  REQUIRE(ready_port(run));
  run.close_stdin();  // the launcher exits; the storm ignores SIGTERM and forks on
  CHECK(run.exit_code() == 0);
  CHECK_FALSE(run.read_line(30s));
  CHECK(run.output_ended());  // the end of output, not a timeout: no process of the tree holds it
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

// Needs a lock that belongs to the open file (F_OFD_SETLK), inherited by the keeper: with a
// classic fcntl lock, which dies with the process that took it, the port is free at once.
TEST_CASE("portpool killed by SIGKILL: while a process of the tree still listens, the port stays held") {
  RunFixture fixture;
  // The daemon ignores SIGTERM and ends only when its input does (this test's pipe, inherited through
  // portpool and the keeper), so the test looks for as long as it needs to, then ends it. The grace
  // is far longer than any wait below: the port is freed by the end of the tree, not by the grace.
  auto run = fixture.spawn({"--kill-grace", "120s"}, {child, "daemonize", child, "listen-stubborn", "until-eof"});
  auto port = ready_port(run);
  REQUIRE(port);
  run.signal(SIGKILL);
  CHECK(run.wait() != 0);
  // The keeper, told of portpool's death, is ending the tree: the daemon got SIGTERM and stays.
  REQUIRE(run.read_line() == "SIGTERM IGNORED");
  CHECK(accepts_connections(*port));
  CHECK(status_lists(fixture.dir.lock_dir(), *port));

  run.close_stdin();  // the daemon exits; the keeper, with no process of the tree left, exits too
  CHECK(wait_until([&] { return !accepts_connections(*port); }));
  CHECK(wait_until([&] { return holders(fixture.dir.lock_dir()).empty(); }));
}

TEST_CASE("signals sent to portpool's whole process group reach CMD exactly once") {
  RunFixture fixture;
  auto run = spawn_in_own_session(fixture.run_arguments({}, {child, "signals"}));
  REQUIRE(ready_port(run));
  for (int number : {SIGUSR1, SIGHUP, SIGTERM}) {
    ::kill(-run.pid(), number);  // as `kill -TERM -PGID`, systemd or a CI runner would
    CHECK(run.read_line() == "SIGNAL " + std::to_string(number));
  }
  auto result = finish(run);
  CHECK(result.out.empty());  // nothing twice: `signals` reports 300 ms more after SIGTERM
  CHECK(result.exit_code == 42);
}

TEST_CASE("started with SIGCHLD ignored, signals blocked and one pending, run sees CMD end and forwards signals") {
  RunFixture fixture;
  auto hostile = [&](const std::vector<std::string>& command) {
    std::vector<std::string> argv{child, "hostile", portpool_command()};
    auto arguments = fixture.run_arguments({}, command);
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return ChildProcess::spawn(argv);
  };
  auto quick = hostile({"/bin/true"});
  quick.close_stdin();
  REQUIRE(wait_until([&] { return quick.exited(); }));  // it saw CMD end: a run that missed it would wait for ever
  CHECK(finish(quick).exit_code == 0);

  auto run = hostile({child, "signals"});
  REQUIRE(ready_port(run));  // the pending SIGUSR2 was not passed on: it would have killed CMD
  run.signal(SIGUSR1);
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGUSR1));
  run.signal(SIGTERM);
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGTERM));
  CHECK(finish(run).exit_code == 42);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("on a terminal, CMD has the foreground: Ctrl-C reaches it once, Ctrl-Z stops the job, fg continues it") {
  RunFixture fixture;
  std::vector<std::string> arguments{portpool_command()};
  auto run_arguments = fixture.run_arguments({}, {child, "signals"});
  arguments.insert(arguments.end(), run_arguments.begin(), run_arguments.end());
  std::vector<char*> argv;
  argv.reserve(arguments.size() + 1);
  for (auto& argument : arguments) {
    argv.push_back(argument.data());
  }
  argv.push_back(nullptr);
  int master = -1;
  pid_t run = ::forkpty(&master, nullptr, nullptr, nullptr);  // portpool leads a session with a terminal
  REQUIRE(run >= 0);
  if (run == 0) {
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  Terminal terminal(master);
  REQUIRE(terminal.shows("READY "));
  terminal.type("\x03");  // Ctrl-C
  CHECK(terminal.shows("SIGNAL 2"));

  terminal.type("\x1a");  // Ctrl-Z: the whole job stops, so that the shell gets its terminal back
  int status = 0;
  CHECK(wait_until([&] { return ::waitpid(run, &status, WUNTRACED | WNOHANG) == run && WIFSTOPPED(status); }));
  ::kill(-run, SIGCONT);  // fg
  terminal.type("\x03");
  CHECK(terminal.shows("SIGNAL 2", 2));

  ::kill(run, SIGTERM);
  CHECK(terminal.shows("SIGNAL 15"));
  while (::waitpid(run, &status, 0) < 0 && errno == EINTR) {
  }
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 42);
  CHECK(terminal.occurrences("SIGNAL 2") == 2);  // none twice
  CHECK(holders(fixture.dir.lock_dir()).empty());
}
