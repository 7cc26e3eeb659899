// `portpool run --template SRC:DST`: a config file rendered with the port before each start of CMD,
// for servers that read their port only from a file.

#include "cli.hpp"
#include "http_client.hpp"
#include "skip.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::ChildProcess;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::wait_until;
using Fixture = portpool::test::RunFixture;

namespace {

std::filesystem::path write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

/// A process's parent pid and state letter, from /proc/PID/stat (after the parenthesized name,
/// which may itself hold spaces and parentheses); nullopt when the process is gone.
std::optional<std::pair<pid_t, char>> parent_and_state(pid_t pid) {
  auto stat = portpool::test::proc_file_text("/proc/" + std::to_string(pid) + "/stat");
  auto name_end = stat.rfind(')');
  if (name_end == std::string::npos || name_end + 4 >= stat.size()) {
    return std::nullopt;
  }
  return std::pair{static_cast<pid_t>(std::stol(stat.substr(name_end + 4))), stat[name_end + 2]};
}

/// Every process below `root` (its children, their children, ...), running now.
std::set<pid_t> descendants(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (std::all_of(name.begin(), name.end(), [](char character) { return character >= '0' && character <= '9'; })) {
      const auto pid = static_cast<pid_t>(std::stol(name));
      if (auto parent = parent_and_state(pid)) {
        children.emplace(parent->first, pid);
      }
    }
  }
  std::set<pid_t> found;
  std::vector<pid_t> pending{root};
  while (!pending.empty()) {
    const auto parent = pending.back();
    pending.pop_back();
    for (auto [child, end] = children.equal_range(parent); child != end; ++child) {
      if (found.insert(child->second).second) {
        pending.push_back(child->second);
      }
    }
  }
  return found;
}

bool running(pid_t pid) {
  auto parent = parent_and_state(pid);
  return parent && parent->second != 'Z';
}

/// A server that reads its port only from its config file, run three times at once from the same
/// template (each copy renders its own config file DIRECTORY/copy-N.conf).
struct ServerFromTemplate {
  std::string template_text;
  /// CMD for the config file at the path given.
  std::function<std::vector<std::string>(const std::string&)> command;
  /// What the server answers on `port` (empty when it does not answer).
  std::function<std::string(std::uint16_t)> answer;
  /// What a copy rendered for `port` answers there.
  std::function<std::string(std::uint16_t)> expected;
};

/// Three `portpool run --template` of `server` at once: each copy answers on its own pool port,
/// `status` lists the three, and SIGTERM to each `run` stops it with exit 0, leaving no process of
/// its tree running and its port free.
void check_three_copies(const ServerFromTemplate& server) {
  Fixture fixture;
  const auto directory = fixture.dir.path();
  const auto source = write_file(directory / "server.conf.in", server.template_text);
  std::vector<ChildProcess> runs;
  for (int copy = 1; copy <= 3; ++copy) {
    const auto config = (directory / ("copy-" + std::to_string(copy) + ".conf")).string();
    runs.push_back(fixture.spawn({"--template", source.string() + ":" + config}, server.command(config)));
  }
  for (auto port : fixture.ports.ports()) {
    INFO("port " << port);
    REQUIRE(wait_until([&] { return server.answer(port) == server.expected(port); }, std::chrono::seconds(60)));
  }

  std::set<std::uint16_t> listed_ports;
  std::set<pid_t> listed_pids;
  for (const auto& holder : holders(fixture.dir.lock_dir())) {
    CHECK(holder.at("service") == "web");
    listed_ports.insert(holder.at("port").get<std::uint16_t>());
    listed_pids.insert(holder.at("pid").get<pid_t>());
  }
  CHECK(listed_ports == std::set<std::uint16_t>(fixture.ports.ports().begin(), fixture.ports.ports().end()));
  std::set<pid_t> run_pids;
  std::set<pid_t> server_pids;
  for (const auto& run : runs) {
    run_pids.insert(run.pid());
    auto tree = descendants(run.pid());
    CHECK_FALSE(tree.empty());
    server_pids.merge(tree);
  }
  CHECK(listed_pids == run_pids);

  for (auto& run : runs) {
    run.signal(SIGTERM);
  }
  // run exits with CMD's status: 0 from the server's own clean stop, or 128 + SIGTERM when the signal
  // came before the server installed its handler (haproxy's master answers through its worker before
  // it does; seen under load).
  for (auto& run : runs) {
    auto result = finish(run);
    INFO(result.err);
    CHECK((result.exit_code == 0 || result.exit_code == 128 + SIGTERM));
  }
  for (auto pid : server_pids) {
    INFO("pid " << pid << " of a copy's tree");
    CHECK_FALSE(running(pid));
  }
  CHECK(holders(fixture.dir.lock_dir()).empty());
  for (auto port : fixture.ports.ports()) {
    INFO("port " << port);
    CHECK_FALSE(portpool::test::accepts_connections(port));
  }
}

}  // namespace

TEST_CASE("run --template writes DST from SRC with the port, instance and service before CMD starts") {
  Fixture fixture;
  auto source = write_file(fixture.dir.path() / "server.conf.in",
                           "server { listen 127.0.0.1:{port}; } # {service} {instance} {unknown} {port\n");
  ::chmod(source.c_str(), 0640);
  auto destination = fixture.dir.path() / "server.conf";
  auto result =
      fixture.run({"--template", source.string() + ":" + destination.string()}, {"cat", destination.string()});
  REQUIRE(result.exit_code == 0);
  auto port = std::to_string(fixture.ports[0]);
  CHECK(result.out == "server { listen 127.0.0.1:" + port + "; } # web 1 {unknown} {port\n");
  struct stat written {};
  REQUIRE(::stat(destination.c_str(), &written) == 0);
  CHECK((written.st_mode & 07777) == 0640);
  CHECK(std::distance(std::filesystem::directory_iterator(fixture.dir.path()), {}) == 4);  // no temporary left
}

TEST_CASE("run --template renders again before each restart") {
  Fixture fixture;
  auto source = write_file(fixture.dir.path() / "a.in", "port={port}\n");
  auto destination = fixture.dir.path() / "a.conf";
  auto result = fixture.run({"--template", source.string() + ":" + destination.string(), "--restart", "on-failure",
                             "--max-restarts", "1", "--restart-delay", "0s"},
                            {"sh", "-c", R"(cat "$0" && rm "$0" && exit 3)", destination.string()});
  CHECK(result.exit_code == 3);
  auto line = "port=" + std::to_string(fixture.ports[0]) + "\n";
  CHECK(result.out == line + line);
}

TEST_CASE("run --template with a wrong SRC:DST is a usage error, before any port is taken") {
  Fixture fixture;
  auto source = write_file(fixture.dir.path() / "b.in", "{port}\n");
  for (const auto& [option, message] :
       {std::pair<std::string, std::string>{"no-colon", "is not SRC:DST"},
        {(fixture.dir.path() / "missing.in").string() + ":out.conf", "cannot read the template"},
        {source.string() + ":" + (fixture.dir.path() / "no-such-dir" / "b.conf").string(), "does not exist"},
        {source.string() + ":" + source.string(), "is the template itself"}}) {
    INFO(option);
    auto result = fixture.run({"--template", option}, {"true"});
    CHECK(result.exit_code == 64);
    CHECK_THAT(result.err, Contains(message));
  }
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("nginx, which reads its port only from its config file, serves on the port rendered by --template") {
  const std::filesystem::path nginx = "/usr/sbin/nginx";
  if (!std::filesystem::exists(nginx)) {
    PORTPOOL_SKIP("nginx is not installed (Debian: apt-get install nginx-light)");
  }
  Fixture fixture;
  const auto directory = fixture.dir.path();
  auto source = write_file(directory / "nginx.conf.in",
                           "daemon off;\npid " + (directory / "nginx.pid").string() +
                               ";\nevents {}\nhttp {\n  access_log off;\n  server {\n    listen 127.0.0.1:{port};\n"
                               "    location / { return 200 \"{service} {instance} on {port}\\n\"; }\n  }\n}\n");
  auto config = directory / "nginx.conf";
  auto server = fixture.spawn({"--template", source.string() + ":" + config.string()},
                              {nginx.string(), "-e", "stderr", "-p", directory.string(), "-c", config.string()});
  const auto port = fixture.ports[0];
  std::string answer;
  REQUIRE(wait_until([&] {
    try {
      answer = portpool::test::http_get(port, "/").body;
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }));
  CHECK(answer == "web 1 on " + std::to_string(port) + "\n");
  server.signal(SIGTERM);
  CHECK(finish(server).exit_code == 0);
  CHECK(holders(fixture.dir.lock_dir()).empty());
  CHECK_FALSE(portpool::test::accepts_connections(port));
}

TEST_CASE("three haproxy copies from one --template each answer on their own port and stop on SIGTERM") {
  const std::filesystem::path haproxy = "/usr/sbin/haproxy";
  if (!std::filesystem::exists(haproxy)) {
    PORTPOOL_SKIP("haproxy is not installed (Debian: apt-get install haproxy)");
  }
  // -W: the master-worker mode of Debian's own unit, in the foreground; on SIGTERM the master stops
  // its worker and exits 0.
  check_three_copies(
      {"global\n  nbthread 1\n"
       "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
       "frontend web\n  bind 127.0.0.1:{port}\n"
       "  http-request return status 200 content-type text/plain string \"{service} {instance} on {port}\"\n",
       [&](const std::string& config) {
         return std::vector<std::string>{haproxy.string(), "-W", "-f", config};
       },
       [](std::uint16_t port) {
         try {
           return portpool::test::http_get(port, "/").body;
         } catch (const std::exception&) {
           return std::string();
         }
       },
       [](std::uint16_t port) { return "web 1 on " + std::to_string(port); }});
}

TEST_CASE(
    "three redis-server copies from one --template config each answer PING on their own port and stop on SIGTERM") {
  const std::filesystem::path redis = "/usr/bin/redis-server";
  if (!std::filesystem::exists(redis)) {
    PORTPOOL_SKIP("redis-server is not installed (Debian: apt-get install redis-server)");
  }
  // Nothing persisted; the log goes to standard output (logfile "").
  check_three_copies({"port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\ndaemonize no\nlogfile \"\"\n",
                      [&](const std::string& config) {
                        return std::vector<std::string>{redis.string(), config};
                      },
                      [](std::uint16_t port) {
                        try {
                          return portpool::test::raw_exchange(port, "PING\r\n");
                        } catch (const std::exception&) {
                          return std::string();
                        }
                      },
                      [](std::uint16_t) { return std::string("+PONG\r\n"); }});
}
