// The fleet commands of `portpool`, which does not link etcd's client: they run in the fleet
// component (fleet_component.hpp) with the same command line.

#include "fleet_component.hpp"
#include "fleet_options.hpp"

namespace portpool::cli {

int run_publish_command(const PublishArguments& /*arguments*/) { run_in_fleet_component(); }

int run_fleet_init_command(const FleetInitArguments& /*arguments*/) { run_in_fleet_component(); }

int run_fleet_status(const FleetStatusArguments& /*arguments*/, bool /*json*/) { run_in_fleet_component(); }

}  // namespace portpool::cli
