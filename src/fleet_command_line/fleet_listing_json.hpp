#pragma once

// The JSON of a fleet listing, the same wherever it is shown: `portpool status --fleet --json`,
// the API gateway's /api/services?scope=fleet and the MCP server's list_holders with scope fleet.
//
//   {"revision":N,"holders":[
//   {"host","port","service","transport","pid","instance","instance_id","address","since","readiness","boot_id"},
//   ...
//   ]}
//
// sorted by host, then port, one holder per line. The text is written directly, without a JSON
// document: a listing has thousands of holders, and building and printing a document of them
// took as long as reading them from etcd. The documents below are that text, parsed.

#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/fleet/fleet_view.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace portpool::fleet_command_line {

/// Appends `holder` as one JSON object, on one line, to `out`.
void append_fleet_holder_json(std::string& out, const fleet::FleetHolder& holder);

/// The listing as JSON text, ending with a newline.
std::string fleet_snapshot_json_text(const fleet::FleetSnapshot& snapshot);

nlohmann::ordered_json fleet_holder_json(const fleet::FleetHolder& holder);

nlohmann::ordered_json fleet_snapshot_json(const fleet::FleetSnapshot& snapshot);

}  // namespace portpool::fleet_command_line
