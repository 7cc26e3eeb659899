#pragma once

// One JSON object per line on stderr, one line per event: easy to read, easy to grep, easy to
// feed to a log collector.

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

namespace portpool_example {

/// `time` as ISO 8601 in UTC with milliseconds, e.g. 2024-05-01T12:00:00.250Z.
inline std::string utc_timestamp(std::chrono::system_clock::time_point time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(static_cast<std::time_t>(seconds.count())),
                     milliseconds.count());
}

/// Writes `{"time":...,"event":<event>, <fields>...}` as one line on stderr.
inline void log_event(std::string_view event, const nlohmann::ordered_json& fields = nlohmann::ordered_json::object()) {
  nlohmann::ordered_json line;
  line["time"] = utc_timestamp(std::chrono::system_clock::now());
  line["event"] = event;
  line.update(fields);
  // Control characters are written as \u00XX by the encoder; a byte that is not UTF-8 (a client
  // may send one in a header) becomes U+FFFD rather than an exception.
  auto text = line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + '\n';
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace portpool_example
