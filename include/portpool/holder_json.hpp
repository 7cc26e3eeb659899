#pragma once

/// @file
/// Holders and registry changes as JSON: the one shape shared by `portpool status --json` and
/// `status --watch --json`, and the gateway's `/api/services` and `/api/events` (needs
/// nlohmann/json).

#include <portpool/holder.hpp>
#include <portpool/registry_watcher.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <string>
#include <vector>

namespace portpool {

/// `time` as ISO 8601 in UTC with milliseconds, such as "2026-05-01T12:00:00.250Z".
inline std::string iso8601_utc(std::chrono::system_clock::time_point time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(static_cast<std::time_t>(seconds.count())),
                     milliseconds.count());
}

/// `{"port", "service", "transport", "pid", "helper_pid", "instance", "instance_id", "since",
/// "readiness", "protocol", "health", "version", "tags", "meta", "verified"}`: transport is "tcp", "udp" or
/// "both" (always present; "tcp" for records written before transports existed); pid is the
/// holder as users know it (`application_pid_of()`: the application a helper such as `portpool
/// lease` holds the port for), helper_pid the helper holding the lock for it, else null; protocol,
/// health and version are null when the holder did not give them, tags a list and meta an object
/// (both possibly empty); verified is false for a record that any member of a shared lock directory
/// could have written (`Holder::verified`).
inline nlohmann::ordered_json holder_json(const Holder& holder) {
  auto text_or_null = [](const std::string& text) {
    return text.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(text);
  };
  return {{"port", holder.port},
          {"service", holder.service},
          {"transport", to_string(holder.transport)},
          {"pid", application_pid_of(holder)},
          {"helper_pid", holder.application_pid != 0 ? nlohmann::ordered_json(holder.pid) : nlohmann::ordered_json()},
          {"instance", holder.instance},
          {"instance_id", holder.instance_id},
          {"since", iso8601_utc(holder.since)},
          {"readiness", to_string(holder.readiness)},
          {"protocol", text_or_null(holder.description.protocol)},
          {"health", text_or_null(holder.description.health_path)},
          {"version", text_or_null(holder.description.version)},
          {"tags", holder.description.tags},
          {"meta", holder.description.metadata},
          {"verified", holder.verified}};
}

/// `{"type": "snapshot", "time", "holders": [holder_json...]}`: the first message of a watch.
inline nlohmann::ordered_json snapshot_json(const std::vector<Holder>& holders) {
  auto list = nlohmann::ordered_json::array();
  for (const auto& holder : holders) {
    list.push_back(holder_json(holder));
  }
  return {{"type", "snapshot"}, {"time", iso8601_utc(std::chrono::system_clock::now())}, {"holders", list}};
}

/// `{"type": "acquired" | "released" | "lost" | "changed", "time", "port", "holder", "reason"}`;
/// `reason` only for "lost".
inline nlohmann::ordered_json change_json(const RegistryChange& change) {
  nlohmann::ordered_json message{{"type", to_string(change.kind)},
                                 {"time", iso8601_utc(std::chrono::system_clock::now())},
                                 {"port", change.holder.port},
                                 {"holder", holder_json(change.holder)}};
  if (change.kind == RegistryChange::Kind::lost) {
    message["reason"] = change.reason;
  }
  return message;
}

}  // namespace portpool
