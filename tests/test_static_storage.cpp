// Leases, instance leases, listening leases, shields and managers with static storage duration
// are released cleanly when the process exits, in any order against each other and against the
// library's own statics.

#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace portpool;
using namespace portpool::test;

TEST_CASE("a program with static leases and shields exits cleanly and frees everything") {
  const auto* order = GENERATE("lmisw", "wsiml", "swlim", "imwsl", "l", "s", "w", "i");
  CAPTURE(order);
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto program = ChildProcess::spawn({PORTPOOL_TEST_STATIC_STORAGE, directory.lock_dir().string(),
                                      std::to_string(ports[0]), std::to_string(ports[1]), order});
  CHECK(program.read_line() == std::optional<std::string>("HELD"));
  auto code = program.exit_code();
  INFO(program.read_stderr());
  CHECK(code == 0);
  CHECK(Registry::holders(directory.lock_dir()).empty());
  PortPoolManager manager("after", ports.ports(), options_in(directory));
  auto first = manager.acquire();
  auto second = manager.acquire();
  CHECK(first.port() == ports[0]);
  CHECK(second.port() == ports[1]);
}
