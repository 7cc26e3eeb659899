#include <portpool/portpool.hpp>

std::uint16_t first_api_server_port_from_second_unit() {
  return portpool::ServicePortTable::defaults().pool_for("api-server", 1)[0];
}
