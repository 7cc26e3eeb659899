#include "fleet_options.hpp"

namespace portpool::cli {

void add_fleet_status_options(CLI::App& command, FleetStatusArguments& arguments) {
  command.add_flag("--fleet", arguments.fleet, "show every host's holders, from etcd (needs --etcd)");
  command.add_flag("--watch", arguments.watch,
                   "then print every change (acquired, released, lost, changed) as it happens, one line each, until "
                   "interrupted; with --fleet, of every host");
  fleet_command_line::add_etcd_options(command, arguments.etcd);
}

}  // namespace portpool::cli
