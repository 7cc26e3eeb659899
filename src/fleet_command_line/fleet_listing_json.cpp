#include "fleet_listing_json.hpp"

namespace portpool::fleet_command_line {

nlohmann::ordered_json fleet_holder_json(const fleet::FleetHolder& holder) {
  return {{"host", holder.host},
          {"port", holder.port},
          {"service", holder.service},
          {"pid", holder.pid},
          {"instance", holder.instance},
          {"instance_id", holder.instance_id},
          {"address", holder.address},
          {"since", fleet::iso8601_utc(holder.since)},
          {"readiness", to_string(holder.readiness)},
          {"boot_id", holder.boot_id}};
}

nlohmann::ordered_json fleet_snapshot_json(const fleet::FleetSnapshot& snapshot) {
  auto list = nlohmann::ordered_json::array();
  for (const auto& holder : snapshot.holders) {
    list.push_back(fleet_holder_json(holder));
  }
  return {{"revision", snapshot.revision}, {"holders", std::move(list)}};
}

}  // namespace portpool::fleet_command_line
