// Two translation units include the umbrella header and are linked into one program: every
// non-template function in the headers must be inline for this to link.
#include <portpool/portpool.hpp>

#include <catch2/catch.hpp>

std::uint16_t first_api_server_port_from_second_unit();

TEST_CASE("two translation units including portpool link into one program") {
  CHECK(first_api_server_port_from_second_unit() ==
        portpool::ServicePortTable::defaults().pool_for("api-server", 1)[0]);
}
