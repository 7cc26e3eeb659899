#include <portpool/asio.hpp>

#include "example_application_table.hpp"

std::uint16_t first_api_server_port_from_second_unit() {
  return portpool::test::example_application_table().pool_for("api-server", 1)[0];
}
