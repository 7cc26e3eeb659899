// Two translation units include the umbrella header and are linked into one program: every
// non-template function in the headers must be inline for this to link. This unit includes the
// shield first, so that a detail helper of the shield cannot hijack an overload the registry's
// record parser relies on (it once did, and a process could no longer see its own holds).
#include <portpool/port_shield.hpp>
// (keep this order)
#include <portpool/asio.hpp>

#include "example_application_table.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

std::uint16_t first_api_server_port_from_second_unit();

TEST_CASE("two translation units including portpool link into one program") {
  CHECK(first_api_server_port_from_second_unit() ==
        portpool::test::example_application_table().pool_for("api-server", 1)[0]);
}

TEST_CASE("with the shield included first, the registry still reads the process's own holds") {
  portpool::test::TempDir directory;
  auto ports = portpool::test::ReservedPorts::any(1);
  portpool::Options options;
  options.lock_dir = directory.lock_dir();
  portpool::PortPoolManager manager("odr", ports.ports(), options);
  auto lease = manager.acquire();
  auto holders = portpool::Registry::holders(options);
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == ::getpid());
}
