// `portpool run` of a udp service: its shield watches the port's UDP sockets. CMD's own socket is the
// service's; another program's UDP socket on the port is a loss, as a foreign listener is for TCP.

#include "cli.hpp"
#include "skip.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using namespace portpool::test;
using namespace std::chrono_literals;

namespace {

/// python3 on PATH, or nullopt.
std::optional<std::filesystem::path> find_python() {
  const char* path = std::getenv("PATH");
  std::istringstream directories(path == nullptr ? "" : path);
  for (std::string directory; std::getline(directories, directory, ':');) {
    auto candidate = std::filesystem::path(directory) / "python3";
    if (!directory.empty() && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

/// A datagram server as CMD: binds UDP 127.0.0.1:$PORT itself, prints "READY <port>"; on SIGTERM
/// prints "SIGNAL 15" and exits 42.
constexpr const char* udp_server = R"(import os, signal, socket
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("127.0.0.1", int(os.environ["PORT"])))
def stop(number, frame):
    print("SIGNAL", number, flush=True)
    os._exit(42)
signal.signal(signal.SIGTERM, stop)
print("READY", os.environ["PORT"], flush=True)
while True:
    signal.pause()
)";

}  // namespace

TEST_CASE("run of a udp service: CMD's own UDP socket is not foreign, another program's stops CMD") {
  auto python = find_python();
  if (!python) {
    PORTPOOL_SKIP("python3 is not on PATH (CMD is a Python datagram server)");
  }
  const char* beside = can_listen_on_address("::1") ? "::1" : "127.0.0.2";
  if (!bind_udp_on_address(beside, 0)) {
    PORTPOOL_SKIP("neither ::1 nor 127.0.0.2 can be bound here, and the other program binds there");
  }
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = write_config(dir, "[services.dns]\nports = [" + std::to_string(ports[0]) + "]\ntransport = \"udp\"\n");
  auto log = dir.path() / "stderr.log";
  auto run = spawn_portpool_logging({"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string(),
                                     "--quiet", "dns", "--", python->string(), "-c", udp_server},
                                    log);
  auto port = ready_port(run);
  REQUIRE(port == ports[0]);
  // CMD's socket is bound: the shield checks once a second, and must find nothing in two checks.
  CHECK_FALSE(wait_until([&] { return !file_text(log).empty(); }, 2500ms));

  auto foreign = bind_udp_on_address(beside, *port);  // this test process: outside run's tree
  REQUIRE(foreign);
  CHECK(run.read_line() == "SIGNAL " + std::to_string(SIGTERM));
  CHECK(finish(run).exit_code == 69);  // the port was lost: CMD (status 42) was ended
  auto reported = file_text(log);
  CHECK_THAT(reported, StartsWith("portpool: port " + std::to_string(*port) + " of 'dns' is lost: "));
  CHECK_THAT(reported, Contains("has a UDP socket bound to") && Contains("pid " + std::to_string(::getpid())) &&
                           Contains("stopping the command (SIGTERM)"));
}
