// A holder killed with SIGKILL at every step of acquiring and releasing a port: no port is ever
// held twice, and none stays lost after the holder died. The holder process stops itself with
// SIGSTOP at the named step (PORTPOOL_TEST_STOP_AT, see detail/test_hook.hpp), so the test looks
// at the exact moment instead of racing it.

#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "holder.hpp"
#include "ports.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace portpool;
using namespace portpool::test;

namespace {

ChildProcess spawn_holder_stopping_at(const TempDir& directory, const std::string& step, std::uint16_t port) {
  return ChildProcess::spawn(
      {PORTPOOL_TEST_HOLDER, "port", directory.lock_dir().string(), "victim", std::to_string(port)},
      {"PORTPOOL_TEST_STOP_AT=" + step});
}

/// The state letter of /proc/PID/stat ('T' when stopped), or '?' when it cannot be read.
char process_state(pid_t pid) {
  auto line = proc_file_text("/proc/" + std::to_string(pid) + "/stat");
  auto after_command = line.rfind(") ");
  return after_command == std::string::npos ? '?' : line.at(after_command + 2);
}

bool stopped(const ChildProcess& process) {
  return wait_until([&] { return process_state(process.pid()) == 't' || process_state(process.pid()) == 'T'; });
}

/// What another process gets when it asks for `port` now: the port, or -1.
int another_process_takes(const TempDir& directory, std::uint16_t port, std::vector<ChildProcess>& keep) {
  keep.push_back(spawn_port_holder(directory.lock_dir(), "bystander", {port}));
  return acquired_by(keep.back());
}

}  // namespace

TEST_CASE("a holder killed at any step of acquiring never shares its port and loses it at death") {
  struct Step {
    const char* name;
    bool holds_the_lock;
  };
  auto step =
      GENERATE(Step{"lock-file-opened", false}, Step{"locked", true}, Step{"probed", true}, Step{"recorded", true});
  CAPTURE(step.name);
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto victim = spawn_holder_stopping_at(directory, step.name, ports[0]);
  REQUIRE(stopped(victim));

  std::vector<ChildProcess> bystanders;
  auto taken_while_stopped = another_process_takes(directory, ports[0], bystanders);
  CHECK(taken_while_stopped == (step.holds_the_lock ? -1 : ports[0]));

  victim.signal(SIGKILL);
  CHECK(victim.exit_code() == 128 + SIGKILL);

  if (!step.holds_the_lock) {
    CHECK(another_process_takes(directory, ports[0], bystanders) == -1);  // still the bystander's
    return;
  }
  auto survivor = another_process_takes(directory, ports[0], bystanders);
  CHECK(survivor == ports[0]);
  auto holders = Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == bystanders.back().pid());
}

TEST_CASE("a holder paused at any step of acquiring and resumed ends up holding, unless someone else took it") {
  const auto* step = GENERATE("lock-file-opened", "locked", "recorded", "probed");
  CAPTURE(step);
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto victim = spawn_holder_stopping_at(directory, step, ports[0]);
  REQUIRE(stopped(victim));
  victim.signal(SIGCONT);
  CHECK(acquired_by(victim) == ports[0]);
  auto holders = Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == victim.pid());
  std::vector<ChildProcess> bystanders;
  CHECK(another_process_takes(directory, ports[0], bystanders) == -1);
}

TEST_CASE("a holder killed while releasing still held its port until it died, and loses it at death") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto victim = spawn_holder_stopping_at(directory, "releasing", ports[0]);
  REQUIRE(acquired_by(victim) == ports[0]);
  victim.close_stdin();
  REQUIRE(stopped(victim));

  CHECK(Registry::holders(directory.lock_dir()).empty());  // the record is retired before the lock goes
  std::vector<ChildProcess> bystanders;
  CHECK(another_process_takes(directory, ports[0], bystanders) == -1);

  victim.signal(SIGKILL);
  CHECK(victim.exit_code() == 128 + SIGKILL);
  CHECK(another_process_takes(directory, ports[0], bystanders) == ports[0]);
  auto holders = Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == bystanders.back().pid());
}

TEST_CASE("a holder stopped between locking and recording is never taken for the previous holder") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  {
    PortPoolManager previous("previous", ports.ports(), options_in(directory));
    auto lease = previous.acquire();  // leaves its (retired) record in the lock file; this process lives on
  }
  auto victim = spawn_holder_stopping_at(directory, "locked", ports[0]);
  REQUIRE(stopped(victim));
  CHECK(Registry::holders(directory.lock_dir()).empty());
  std::vector<Event> events;
  PortPoolManager bystander("bystander", ports.ports(), recording_options(directory, events));
  CHECK_FALSE(bystander.try_acquire().has_value());
  REQUIRE_FALSE(events.empty());
  CHECK(events.front().message.find("held by another process") != std::string::npos);

  victim.signal(SIGKILL);
  victim.wait();
  PortPoolManager manager("next", ports.ports(), options_in(directory));
  auto lease = manager.acquire();
  auto holder = Registry::holder_of(ports[0], options_in(directory));
  REQUIRE(holder.has_value());
  CHECK(holder->service == "next");
}
