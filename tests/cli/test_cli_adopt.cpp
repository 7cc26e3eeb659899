// `portpool run --adopt PORT`: unmodified programs that bind a fixed port get the pool port that
// `run` holds, through the LD_PRELOAD library (libportpool-adopt.so): real Python and Node servers,
// three copies at once, restarts, reloads, dual-stack binds, binds of ports that are not adopted;
// and through the keeper's seccomp filter: busybox httpd and a Go server built with CGO_ENABLED=0
// (static binaries, which `--adopt-mode auto` gives to seccomp).

#include "bind_adoption.hpp"
#include "cli.hpp"
#include "skip.hpp"

#include <portpool/process_tree.hpp>

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using portpool::test::CliResult;
using portpool::test::file_text;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::portpool_command;
using portpool::test::RunFixture;
using portpool::test::wait_until;

// The static Go server tests/adopt builds; empty where Go is not installed.
#ifndef PORTPOOL_TEST_GO_SERVER
#define PORTPOOL_TEST_GO_SERVER ""
#endif

namespace {

// The port number the programs bind: adopted, so whether anything else uses it does not matter.
constexpr const char* fixed_port = "8000";

std::optional<std::string> installed(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream directories(path == nullptr ? "" : path);
  for (std::string directory; std::getline(directories, directory, ':');) {
    auto candidate = std::filesystem::path(directory.empty() ? "." : directory) / program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
  }
  return std::nullopt;
}

/// The first line of `process`'s output that starts with `prefix`, without it; nullopt at its end.
std::optional<std::string> line_after(portpool::test::ChildProcess& process, const std::string& prefix) {
  while (auto line = process.read_line()) {
    if (line->rfind(prefix, 0) == 0) {
      return line->substr(prefix.size());
    }
  }
  return std::nullopt;
}

/// The first number in `text`.
unsigned first_number(const std::string& text) {
  std::istringstream fields(text);
  unsigned number = 0;
  fields >> number;
  return number;
}

/// What a server on 127.0.0.1:port answers to `request` (read until it closes, 10 s at most), or
/// "connect failed".
std::string answer_to(std::uint16_t port, const std::string& request) {
  portpool::UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval limit{10, 0};
  ::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  auto address = portpool::test::loopback(port);
  if (::connect(client.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return "connect failed";
  }
  if (!request.empty() && ::write(client.get(), request.data(), request.size()) < 0) {
    return "write failed";
  }
  std::string answer;
  char buffer[512];
  for (ssize_t count; (count = ::read(client.get(), buffer, sizeof buffer)) > 0;) {
    answer.append(buffer, static_cast<std::size_t>(count));
  }
  return answer;
}

std::string http_get(std::uint16_t port) { return answer_to(port, "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n"); }

std::set<std::uint16_t> pool_of(const RunFixture& fixture) {
  return {fixture.ports.ports().begin(), fixture.ports.ports().end()};
}

std::set<std::uint16_t> held_ports(const RunFixture& fixture) {
  std::set<std::uint16_t> ports;
  for (const auto& holder : holders(fixture.dir.lock_dir())) {
    ports.insert(holder.at("port").get<std::uint16_t>());
  }
  return ports;
}

std::string script(const RunFixture& fixture, const std::string& name, const std::string& text) {
  auto path = fixture.dir.path() / name;
  std::ofstream(path) << text;
  return path.string();
}

// Binds 8000 as a plain server does, says what it got (getsockname) and what it was given (no
// socket activation), then answers each connection with its pid and exits with status 3 after one
// whose request is "crash". With NOTIFY_SOCKET set it says READY=1 once bound.
constexpr const char* fixed_port_server = R"(import os, socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", 8000))
server.listen(16)
print("SERVING", server.getsockname()[1], os.getpid(), os.environ.get("LISTEN_FDS", "no-LISTEN_FDS"), flush=True)
notify = os.environ.get("NOTIFY_SOCKET", "")
if notify:
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", "\0" + notify[1:] if notify[0] == "@" else notify)
while True:
    connection, _ = server.accept()
    request = connection.recv(64)
    connection.sendall(b"hello from %d" % os.getpid())
    connection.close()
    if request == b"crash":
        sys.exit(3)
)";

// Binds 0.0.0.0:8000 and [::]:8000 (IPV6_V6ONLY) on two sockets, as some servers do, and answers
// the first connection on the first socket, the second on the second.
constexpr const char* dual_stack_server = R"(import socket
try:
    six = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
except OSError:
    print("NO-IPV6", flush=True)
    raise SystemExit(0)
four = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
four.bind(("0.0.0.0", 8000))
six.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
six.bind(("::", 8000))
four.listen(16)
six.listen(16)
print("BOUND", four.getsockname()[1], six.getsockname()[1], flush=True)
for name, server in (("four", four), ("six", six)):
    connection, _ = server.accept()
    connection.sendall(name.encode())
    connection.close()
print("DONE", flush=True)
)";

// Binds a port that is not adopted (one the kernel just said was free) besides the adopted 8000,
// and answers one connection on each.
constexpr const char* two_port_server = R"(import socket
probe = socket.socket()
probe.bind(("127.0.0.1", 0))
free_port = probe.getsockname()[1]
probe.close()
own = socket.socket()
own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
own.bind(("127.0.0.1", free_port))
own.listen(4)
adopted = socket.socket()
adopted.bind(("127.0.0.1", 8000))
adopted.listen(4)
print("PORTS", own.getsockname()[1], adopted.getsockname()[1], free_port, flush=True)
for name, server in (("own", own), ("adopted", adopted)):
    connection, _ = server.accept()
    connection.sendall(name.encode())
    connection.close()
)";

// Three `run --adopt 8000` of `command` at once: each prints its line starting with `prefix`
// followed by the port it got; each answers `check` on its own port of the pool, listed by status.
template <class Check>
void three_copies_serve(const std::vector<std::string>& command, const std::string& prefix, Check check) {
  RunFixture fixture;
  constexpr std::size_t copies = 3;
  std::vector<portpool::test::ChildProcess> runs;
  runs.reserve(copies);
  std::set<std::uint16_t> reported;
  for (std::size_t copy = 0; copy < copies; ++copy) {
    runs.push_back(fixture.spawn({"--adopt", fixed_port}, command));
  }
  for (auto& run : runs) {
    auto line = line_after(run, prefix);
    REQUIRE(line);
    reported.insert(static_cast<std::uint16_t>(first_number(*line)));
  }
  CHECK(reported == pool_of(fixture));
  for (auto port : reported) {
    CHECK(wait_until([&] { return check(http_get(port)); }));
    CHECK_FALSE(portpool::test::try_listen_on(port));  // held: nothing else binds it
  }
  CHECK(held_ports(fixture) == pool_of(fixture));
  for (const auto& holder : holders(fixture.dir.lock_dir())) {
    auto pid = holder.at("pid").get<int>();
    CHECK(std::any_of(runs.begin(), runs.end(), [pid](const auto& run) { return run.pid() == pid; }));
  }
  for (auto& run : runs) {
    run.signal(SIGTERM);
  }
  for (auto& run : runs) {
    finish(run);
  }
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

// Three `run --adopt 8000` of a static program at once (which LD_PRELOAD cannot reach: `auto` gives
// it to seccomp): each port of the pool answers `check(port, answer)` and cannot be listened on by
// anything else.
template <class Check>
void three_static_copies_serve(const std::vector<std::string>& command, Check check) {
  RunFixture fixture;
  constexpr std::size_t copies = 3;
  std::vector<portpool::test::ChildProcess> runs;
  runs.reserve(copies);
  for (std::size_t copy = 0; copy < copies; ++copy) {
    runs.push_back(fixture.spawn({"--adopt", fixed_port}, command));
  }
  REQUIRE(wait_until([&] { return held_ports(fixture) == pool_of(fixture); }));
  for (auto port : pool_of(fixture)) {
    CHECK(wait_until([&] { return check(port, http_get(port)); }));
    CHECK_FALSE(portpool::test::try_listen_on(port));
  }
  for (auto& run : runs) {
    run.signal(SIGTERM);
  }
  for (auto& run : runs) {
    finish(run);
  }
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

std::string program_name(pid_t process) {
  auto name = portpool::test::proc_file_text("/proc/" + std::to_string(process) + "/comm");
  return name.empty() ? name : name.substr(0, name.size() - 1);
}

pid_t parent_of(pid_t process) {
  auto stat = portpool::test::proc_file_text("/proc/" + std::to_string(process) + "/stat");
  auto name_end = stat.rfind(')');
  return name_end == std::string::npos ? -1 : static_cast<pid_t>(first_number(stat.substr(name_end + 4)));
}

/// The processes of `run`'s tree whose program is `name` and whose parent's is not: the servers,
/// not the children that busybox httpd forks for each connection.
std::vector<pid_t> servers_named(pid_t run, const std::string& name) {
  std::vector<pid_t> found;
  for (pid_t process : portpool::descendants_of(run)) {
    if (program_name(process) == name && program_name(parent_of(process)) != name) {
      found.push_back(process);
    }
  }
  return found;
}

}  // namespace

TEST_CASE("three copies of busybox httpd -p 8000, a static binary, serve at once under run --adopt 8000 (seccomp)") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  auto busybox = installed("busybox");
  if (!busybox) {
    PORTPOOL_SKIP("needs busybox (Debian: busybox-static)");
  }
  portpool::test::TempDir site;
  std::ofstream(site.path() / "index.html") << "adopted\n";
  three_static_copies_serve({*busybox, "httpd", "-f", "-p", fixed_port, "-h", site.path().string()},
                            [](std::uint16_t, const std::string& answer) {
                              return answer.rfind("HTTP/1.1 200", 0) == 0 &&
                                     answer.find("\r\n\r\nadopted\n") != std::string::npos;
                            });
}

TEST_CASE("three copies of a static Go server on :8000 serve at once under run --adopt 8000 (seccomp)") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  const std::string server = PORTPOOL_TEST_GO_SERVER;
  if (server.empty()) {
    PORTPOOL_SKIP("needs Go to build the static server (Debian: golang-go)");
  }
  // The server answers with the port getsockname() reports: the pool port.
  three_static_copies_serve({server}, [](std::uint16_t port, const std::string& answer) {
    return answer.find("\r\n\r\n" + std::to_string(port)) != std::string::npos;
  });
}

TEST_CASE("run --adopt needs no root: as an unprivileged user, busybox httpd (seccomp) serves on its pool port") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  auto busybox = installed("busybox");
  if (!busybox) {
    PORTPOOL_SKIP("needs busybox (Debian: busybox-static)");
  }
  // As root, `portpool` (a copy, so that the build tree's permissions do not matter) runs as nobody,
  // in a directory of nobody's; otherwise this test runs unprivileged already.
  portpool::test::TempDir space;
  std::vector<std::string> command;
  const passwd* nobody = ::getpwnam("nobody");
  if (::geteuid() == 0) {
    auto setpriv = installed("setpriv");
    if (!setpriv || nobody == nullptr) {
      PORTPOOL_SKIP("needs setpriv (Debian: util-linux) and the user nobody to leave root");
    }
    REQUIRE(::chown(space.path().c_str(), nobody->pw_uid, nobody->pw_gid) == 0);
    command = {*setpriv, "--reuid=" + std::to_string(nobody->pw_uid), "--regid=" + std::to_string(nobody->pw_gid),
               "--clear-groups", "--"};
  }
  auto portpool_copy = space.path() / "portpool";
  std::filesystem::copy_file(portpool_command(), portpool_copy);
  auto ports = portpool::test::ReservedPorts::any(1);
  auto config = space.path() / "portpool.toml";
  std::ofstream(config) << "[services.web]\nports = [" << ports[0] << "]\n";
  std::filesystem::create_directory(space.path() / "site");
  std::ofstream(space.path() / "site" / "index.html") << "adopted\n";
  command.insert(command.end(), {portpool_copy.string(), "run", "--quiet", "--config", config.string(), "--lock-dir",
                                 (space.path() / "locks").string(), "--adopt", fixed_port, "web", "--", *busybox,
                                 "httpd", "-f", "-p", fixed_port, "-h", (space.path() / "site").string()});
  auto run = portpool::test::ChildProcess::spawn(command);
  CHECK(wait_until([&] { return http_get(ports[0]).find("\r\n\r\nadopted\n") != std::string::npos; }));
  auto served_by = servers_named(run.pid(), "busybox");
  REQUIRE(served_by.size() == 1);
  std::istringstream status(portpool::test::proc_file_text("/proc/" + std::to_string(served_by[0]) + "/status"));
  std::string uid_line;
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Uid:", 0) == 0) {
      uid_line = line;
    }
  }
  CHECK(first_number(uid_line.substr(4)) == (::geteuid() == 0 ? nobody->pw_uid : ::geteuid()));
  run.signal(SIGTERM);
  finish(run);
}

TEST_CASE("run --adopt --restart always: a static program killed gets the same held socket again (seccomp)") {
  if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
    PORTPOOL_SKIP(*problem);
  }
  auto busybox = installed("busybox");
  if (!busybox) {
    PORTPOOL_SKIP("needs busybox (Debian: busybox-static)");
  }
  RunFixture fixture;
  portpool::test::TempDir site;
  std::ofstream(site.path() / "index.html") << "adopted\n";
  auto log = fixture.dir.path() / "stderr.log";
  auto run = portpool::test::spawn_portpool_logging(
      fixture.run_arguments({"--adopt", fixed_port, "--restart", "always", "--restart-delay", "1s"},
                            {*busybox, "httpd", "-f", "-p", fixed_port, "-h", site.path().string()}),
      log);
  auto port = fixture.ports[0];
  REQUIRE(wait_until([&] { return http_get(port).rfind("HTTP/1.1 200", 0) == 0; }));
  auto first = servers_named(run.pid(), "busybox");
  REQUIRE(first.size() == 1);
  REQUIRE(::kill(first[0], SIGKILL) == 0);
  REQUIRE(wait_until([&] { return file_text(log).find("restarting it") != std::string::npos; }));
  CHECK_FALSE(portpool::test::try_listen_on(port));  // during the restart delay: still held
  REQUIRE(wait_until([&] {
    auto now = servers_named(run.pid(), "busybox");
    return now.size() == 1 && now[0] != first[0] && http_get(port).rfind("HTTP/1.1 200", 0) == 0;
  }));
  CHECK(held_ports(fixture) == std::set<std::uint16_t>{port});
  run.signal(SIGTERM);
  finish(run);
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("three copies of python3 -m http.server 8000 under run --adopt 8000 serve at once, each on its pool port") {
  if (!installed("python3")) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  // http.server prints the address getsockname() reports: the pool port, not 8000.
  three_copies_serve({"python3", "-u", "-m", "http.server", fixed_port}, "Serving HTTP on 127.0.0.1 port ",
                     [](const std::string& answer) { return answer.rfind("HTTP/1.0 200", 0) == 0; });
}

TEST_CASE("three copies of a Node http.createServer().listen(8000) under run --adopt 8000 serve at once") {
  if (!installed("node")) {
    PORTPOOL_SKIP("needs node (Debian: nodejs)");
  }
  three_copies_serve({"node", "-e",
                      "const server = require('http').createServer((request, response) => response.end('node ' + "
                      "process.pid)).listen(8000, () => console.log('LISTENING ' + server.address().port))"},
                     "LISTENING ",
                     [](const std::string& answer) { return answer.find("\r\n\r\nnode ") != std::string::npos; });
}

TEST_CASE("run --adopt: getsockname reports the pool port, and descriptor 3 comes without LISTEN_FDS") {
  auto python = installed("python3");
  if (!python) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  RunFixture fixture;
  auto run = fixture.spawn({"--adopt", "8000,8001"}, {*python, script(fixture, "server.py", fixed_port_server)});
  auto line = line_after(run, "SERVING ");
  REQUIRE(line);
  std::istringstream fields(*line);
  unsigned port = 0;
  int pid = 0;
  std::string listen_fds;
  fields >> port >> pid >> listen_fds;
  CHECK(port == fixture.ports[0]);
  CHECK(listen_fds == "no-LISTEN_FDS");
  CHECK(answer_to(fixture.ports[0], "hello") == "hello from " + std::to_string(pid));
  run.signal(SIGTERM);
  finish(run);
}

TEST_CASE("run --adopt: separate binds of 0.0.0.0:8000 and [::]:8000 get two descriptors of the held socket") {
  auto python = installed("python3");
  if (!python) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  RunFixture fixture;
  auto run = fixture.spawn({"--adopt", fixed_port}, {*python, script(fixture, "dual.py", dual_stack_server)});
  auto line = run.read_line();
  REQUIRE(line);
  if (*line == "NO-IPV6") {
    finish(run);
    PORTPOOL_SKIP("no IPv6 sockets here");
  }
  auto port = std::to_string(fixture.ports[0]);
  CHECK(*line == "BOUND " + port + " " + port);
  CHECK(answer_to(fixture.ports[0], "") == "four");
  CHECK(answer_to(fixture.ports[0], "") == "six");
  CHECK(run.read_line() == "DONE");
  CHECK(finish(run).exit_code == 0);
}

TEST_CASE("run --adopt: a bind of a port that is not adopted gets that port, untouched") {
  auto python = installed("python3");
  if (!python) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  RunFixture fixture;
  auto run = fixture.spawn({"--adopt", fixed_port}, {*python, script(fixture, "two.py", two_port_server)});
  auto line = line_after(run, "PORTS ");
  REQUIRE(line);
  std::istringstream fields(*line);
  unsigned own = 0;
  unsigned adopted = 0;
  unsigned asked = 0;
  fields >> own >> adopted >> asked;
  CHECK(own == asked);
  CHECK(own != fixture.ports[0]);
  CHECK(adopted == fixture.ports[0]);
  CHECK(answer_to(static_cast<std::uint16_t>(own), "") == "own");
  CHECK(answer_to(fixture.ports[0], "") == "adopted");
  CHECK(finish(run).exit_code == 0);
}

TEST_CASE("run --adopt --restart always: the next copy gets the same port, which nothing else can bind meanwhile") {
  auto python = installed("python3");
  if (!python) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  RunFixture fixture;
  auto log = fixture.dir.path() / "stderr.log";
  auto server = script(fixture, "server.py", fixed_port_server);
  auto run = portpool::test::spawn_portpool_logging(
      fixture.run_arguments({"--adopt", fixed_port, "--restart", "always", "--restart-delay", "2s"}, {*python, server}),
      log);
  auto first = line_after(run, "SERVING ");
  REQUIRE(first);
  auto port = fixture.ports[0];
  CHECK(first_number(*first) == port);
  CHECK_THAT(answer_to(port, "crash"), StartsWith("hello from "));
  REQUIRE(wait_until([&] { return file_text(log).find("restarting it") != std::string::npos; }));
  CHECK_FALSE(portpool::test::try_listen_on(port));  // during the restart delay: still held
  auto second = line_after(run, "SERVING ");
  REQUIRE(second);
  CHECK(first_number(*second) == port);
  CHECK(*second != *first);  // another pid
  CHECK_THAT(answer_to(port, "hello"), StartsWith("hello from "));
  CHECK(held_ports(fixture) == std::set<std::uint16_t>{port});
  run.signal(SIGTERM);
  finish(run);
}

TEST_CASE("run --adopt --ready notify: SIGHUP reloads the adopted program on the same held socket, by either path") {
  auto python = installed("python3");
  if (!python) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  const std::string mode = GENERATE(as<std::string>(), "preload", "seccomp");
  if (mode == "seccomp") {
    if (auto problem = portpool::cli::seccomp_adoption_unavailable()) {
      PORTPOOL_SKIP(*problem);
    }
  }
  RunFixture fixture;
  auto run = fixture.spawn({"--adopt", fixed_port, "--adopt-mode", mode, "--ready", "notify", "--ready-timeout", "20s"},
                           {*python, script(fixture, "server.py", fixed_port_server)});
  auto first = line_after(run, "SERVING ");
  REQUIRE(first);
  auto port = fixture.ports[0];
  std::istringstream first_fields(*first);
  unsigned first_port = 0;
  int first_pid = 0;
  first_fields >> first_port >> first_pid;
  CHECK(first_port == port);
  auto readiness = [&] {
    auto listed = holders(fixture.dir.lock_dir());
    return listed.size() == 1 ? listed[0].value("readiness", std::string()) : std::string();
  };
  REQUIRE(wait_until([&] { return readiness() == "ready"; }));
  run.signal(SIGHUP);
  auto second = line_after(run, "SERVING ");
  REQUIRE(second);
  std::istringstream second_fields(*second);
  unsigned second_port = 0;
  int second_pid = 0;
  second_fields >> second_port >> second_pid;
  CHECK(second_port == port);
  CHECK(second_pid != first_pid);
  CHECK(wait_until([&] { return ::kill(first_pid, 0) != 0; }));  // the old copy is gone
  CHECK(answer_to(port, "hello") == "hello from " + std::to_string(second_pid));
  CHECK(readiness() == "ready");
  run.signal(SIGTERM);
  finish(run);
}

TEST_CASE("run --adopt reports the mechanism on its port line and in --json, and sets CMD's environment for it") {
  RunFixture fixture;
  auto text = portpool::test::run_portpool(
      {"run", "--config", fixture.config.string(), "--lock-dir", fixture.dir.lock_dir().string(), "--adopt",
       "8000,8001", "web", "--", "/usr/bin/env"},
      {"LD_PRELOAD=libm.so.6"});
  CHECK(text.exit_code == 0);
  CHECK_THAT(text.err, Contains("CMD's binds of ports 8000,8001 get it (preload)"));
  CHECK_THAT(text.out, Contains("PORTPOOL_ADOPT_PORTS=8000,8001\n") && Contains("PORTPOOL_ADOPT_FD=3\n") &&
                           Contains("/libportpool-adopt.so:libm.so.6\n") && !Contains("LISTEN_FDS="));

  auto json = portpool::test::run_portpool({"run", "--json", "--config", fixture.config.string(), "--lock-dir",
                                            fixture.dir.lock_dir().string(), "--adopt", "8000", "web", "--", "/bin/sh",
                                            "-c", "exit 0"});
  CHECK(json.exit_code == 0);
  auto held = nlohmann::json::parse(json.err.substr(0, json.err.find('\n')));
  CHECK(held.at("event") == "held");
  CHECK(held.at("adopt_mode") == "preload");
  CHECK(held.at("adopted_ports") == nlohmann::json::array({8000}));
}

TEST_CASE("run --adopt usage errors exit 64 and say what to do") {
  RunFixture fixture;
  auto run = [&](const std::vector<std::string>& options) -> CliResult {
    return fixture.run(options, {PORTPOOL_CLI_CHILD, "env"});
  };
  auto refused = [&](const std::vector<std::string>& options, const std::string& message) {
    auto result = run(options);
    CHECK(result.exit_code == 64);
    CHECK_THAT(result.err, Contains(message));
    CHECK(holders(fixture.dir.lock_dir()).empty());
  };
  refused({"--adopt", "0"}, "--adopt 0 is not supported");
  refused({"--adopt", "65536"}, "'65536' is not a port number (1 to 65535)");
  refused({"--adopt", "http"}, "'http' is not a port number");
  refused({"--adopt", "8000,,8001"}, "--adopt '8000,,8001' has an empty item");
  refused({"--adopt", ""}, "--adopt '' has an empty item");
  refused({"--adopt", "8000", "--socket"}, "leave --socket out");
  refused({"--adopt-mode", "preload"}, "add --adopt PORT");
  refused({"--adopt", "8000", "--ready", "accept"}, "with --adopt, use --ready notify");
  refused({"--adopt", "8000", "--liveness", "tcp"}, "use --liveness http:PATH (with --adopt too)");
  refused({"--adopt", "8000", "--adopt-mode", "dlopen"}, "--adopt-mode");

  auto udp_config = portpool::test::write_config(
      fixture.dir, "[services.web]\nports = [" + std::to_string(fixture.ports[0]) + "]\ntransport = \"udp\"\n",
      "udp.toml");
  auto udp = portpool::test::run_portpool({"run", "--config", udp_config.string(), "--lock-dir",
                                           fixture.dir.lock_dir().string(), "--adopt", "8000", "web", "--",
                                           PORTPOOL_CLI_CHILD, "env"});
  CHECK(udp.exit_code == 64);
  CHECK_THAT(udp.err, Contains("TCP binds only for now"));
}

TEST_CASE("run --adopt exits 69 naming where it looked when libportpool-adopt.so is not installed beside portpool") {
  RunFixture fixture;
  auto bin = fixture.dir.path() / "bin";
  std::filesystem::create_directories(bin);
  std::filesystem::copy_file(portpool_command(), bin / "portpool");
  auto arguments = fixture.run_arguments({"--adopt", fixed_port}, {"/bin/true"});
  auto argv = portpool::test::isolated_environment();
  argv.push_back((bin / "portpool").string());
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  auto run = portpool::test::ChildProcess::spawn(argv);
  run.close_stdin();
  auto result = finish(run);
  CHECK(result.exit_code == 69);
  // The installed place is LIBDIR/portpool/ relative to the executable's directory (lib/ or a multiarch lib/...).
  CHECK_THAT(result.err, Contains((bin / "libportpool-adopt.so").string()) &&
                             Contains(" nor at " + fixture.dir.path().string() + "/lib") &&
                             Contains("/portpool/libportpool-adopt.so"));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}
