#pragma once

// Aligned text tables and time stamps for the human-readable output.

#include <chrono>
#include <string>
#include <vector>

namespace portpool::cli {

/// The rows (the first one is the header) as lines of left-aligned columns two spaces apart.
std::string format_columns(const std::vector<std::vector<std::string>>& rows);

/// "2024-05-01 12:00:00" in the local time zone.
std::string local_time_text(std::chrono::system_clock::time_point time);

/// "2024-05-01T10:00:00.123Z" (ISO 8601, UTC).
std::string iso8601_utc(std::chrono::system_clock::time_point time);

}  // namespace portpool::cli
