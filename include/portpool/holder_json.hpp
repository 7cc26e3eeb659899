#pragma once

/// @file
/// A holder as JSON, the one shape shared by `portpool status --json`, the gateway's
/// `/api/services` and its event stream (needs nlohmann/json).

#include <portpool/holder.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <ctime>
#include <string>

namespace portpool {

/// `time` as ISO 8601 in UTC with milliseconds, such as "2026-05-01T12:00:00.250Z".
inline std::string iso8601_utc(std::chrono::system_clock::time_point time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(static_cast<std::time_t>(seconds.count())),
                     milliseconds.count());
}

/// `{"port", "service", "pid", "instance", "instance_id", "since", "readiness", "protocol",
/// "health", "version", "tags", "meta"}`: protocol, health and version are null when the holder
/// did not give them, tags a list and meta an object (both possibly empty).
inline nlohmann::ordered_json holder_json(const Holder& holder) {
  auto text_or_null = [](const std::string& text) {
    return text.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(text);
  };
  return {{"port", holder.port},
          {"service", holder.service},
          {"pid", holder.pid},
          {"instance", holder.instance},
          {"instance_id", holder.instance_id},
          {"since", iso8601_utc(holder.since)},
          {"readiness", to_string(holder.readiness)},
          {"protocol", text_or_null(holder.description.protocol)},
          {"health", text_or_null(holder.description.health_path)},
          {"version", text_or_null(holder.description.version)},
          {"tags", holder.description.tags},
          {"meta", holder.description.metadata}};
}

}  // namespace portpool
