#pragma once

// The JSON of a fleet listing, the same wherever it is shown: `portpool status --fleet --json`,
// the API gateway's /api/services?scope=fleet and the MCP server's list_holders with scope fleet.
//
//   {"revision":N,"holders":[{"host","port","service","pid","instance","instance_id","address",
//                             "since","readiness","boot_id"},...]}   sorted by host, then port

#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/fleet/fleet_view.hpp>

#include <nlohmann/json.hpp>

namespace portpool::fleet_command_line {

nlohmann::ordered_json fleet_holder_json(const fleet::FleetHolder& holder);

nlohmann::ordered_json fleet_snapshot_json(const fleet::FleetSnapshot& snapshot);

}  // namespace portpool::fleet_command_line
