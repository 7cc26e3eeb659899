#pragma once

// Durations on the command line: "5s", "1.5s", "500ms", "2m", or a plain number of seconds.

#include <chrono>
#include <string>

namespace portpool::cli {

/// @throws UsageError naming `option` when `text` is not a duration, or is longer than a day.
std::chrono::milliseconds parse_duration(const std::string& text, const std::string& option);

}  // namespace portpool::cli
