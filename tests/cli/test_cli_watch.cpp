// `portpool status --watch`: the current holders, then one line per change as it happens.

#include "cli.hpp"
#include "holder.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>

using Catch::Matchers::Contains;
using namespace portpool::test;

namespace {

nlohmann::json next_message(ChildProcess& watcher) {
  auto line = watcher.read_line();
  REQUIRE(line.has_value());
  return nlohmann::json::parse(*line);
}

void stop(ChildProcess& watcher) {
  watcher.signal(SIGTERM);
  watcher.wait();
}

}  // namespace

TEST_CASE("status --watch --json prints the snapshot, then acquired, released and lost, in order") {
  TempDir dir;
  auto ports = ReservedPorts::any(2);
  auto config = shared_pool_config(dir, "web", {ports[0]});
  auto before = spawn_port_holder(dir.lock_dir(), "early", {ports[1]});
  REQUIRE(acquired_by(before) == ports[1]);

  auto watcher = spawn_portpool({"status", "--watch", "--json", "--lock-dir", dir.lock_dir().string()});
  auto snapshot = next_message(watcher);
  CHECK(snapshot.at("format_version") == 2);
  CHECK(snapshot.at("type") == "snapshot");
  REQUIRE(snapshot.at("holders").size() == 1);
  CHECK(snapshot.at("holders")[0].at("service") == "early");
  CHECK(snapshot.at("holders")[0].at("transport") == "tcp");

  auto holder = spawn_portpool({"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), "--protocol",
                                "http", "web", "--", PORTPOOL_CLI_CHILD, "hold"});
  REQUIRE(ready_port(holder) == ports[0]);
  auto acquired = next_message(watcher);
  CHECK(acquired.at("format_version") == 2);
  CHECK(acquired.at("type") == "acquired");
  CHECK(acquired.at("port") == ports[0]);
  CHECK(acquired.at("holder").at("pid") == holder.pid());
  CHECK(acquired.at("holder").at("protocol") == "http");

  holder.close_stdin();
  CHECK(finish(holder).exit_code == 0);
  auto released = next_message(watcher);
  CHECK(released.at("type") == "released");
  CHECK(released.at("port") == ports[0]);

  before.signal(SIGKILL);
  auto lost = next_message(watcher);
  CHECK(lost.at("type") == "lost");
  CHECK(lost.at("port") == ports[1]);
  CHECK_THAT(lost.at("reason").get<std::string>(), Contains("ended without releasing it"));
  before.wait();
  stop(watcher);
}

TEST_CASE("status --watch prints one readable line per change") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto watcher = spawn_portpool({"status", "--watch", "--lock-dir", dir.lock_dir().string()});
  auto header = watcher.read_line();
  REQUIRE(header.has_value());
  CHECK_THAT(*header, Contains("watching " + dir.lock_dir().string() + " (0 held)"));

  auto holder = spawn_port_holder(dir.lock_dir(), "worker", ports.ports());
  REQUIRE(acquired_by(holder) == ports[0]);
  auto acquired = watcher.read_line();
  REQUIRE(acquired.has_value());
  CHECK_THAT(*acquired, Contains("acquired  " + std::to_string(ports[0]) + " worker pid " +
                                 std::to_string(holder.pid()) + " instance 1"));
  holder.close_stdin();
  holder.wait();
  auto released = watcher.read_line();
  REQUIRE(released.has_value());
  CHECK_THAT(*released, Contains("released  " + std::to_string(ports[0]) + " worker"));
  stop(watcher);
}

TEST_CASE("status --watch names a udp holder's transport: PORT/udp in its lines, \"transport\" in JSON") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = write_config(dir, "[services.dns]\nports = [" + std::to_string(ports[0]) + "]\ntransport = \"udp\"\n");
  auto text_watcher = spawn_portpool({"status", "--watch", "--lock-dir", dir.lock_dir().string()});
  REQUIRE(text_watcher.read_line().has_value());
  auto json_watcher = spawn_portpool({"status", "--watch", "--json", "--lock-dir", dir.lock_dir().string()});
  CHECK(next_message(json_watcher).at("holders").empty());

  auto lease = spawn_portpool({"lease", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), "dns"});
  REQUIRE(lease.read_line().has_value());
  auto acquired = text_watcher.read_line();
  REQUIRE(acquired.has_value());
  CHECK_THAT(*acquired,
             Contains("acquired  " + std::to_string(ports[0]) + "/udp dns pid " + std::to_string(::getpid())));
  auto message = next_message(json_watcher);
  CHECK(message.at("type") == "acquired");
  CHECK(message.at("holder").at("transport") == "udp");
  lease.close_stdin();
  CHECK(finish(lease).exit_code == 0);
  stop(text_watcher);
  stop(json_watcher);
}

TEST_CASE("status --watch on an unsafe lock directory exits 77") {
  TempDir dir;
  auto link = dir.path() / "link";
  std::filesystem::create_directory_symlink(dir.lock_dir().parent_path(), link);
  auto result = run_portpool({"status", "--watch", "--lock-dir", link.string()});
  CHECK(result.exit_code == 77);
  CHECK_THAT(result.err, Contains("symbolic link"));
}
