#pragma once

// Aligned text tables, time stamps and terminal-safe text for the human-readable output.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace portpool::cli {

/// The rows (the first one is the header) as lines of left-aligned columns two spaces apart, each
/// cell with its control characters escaped (portpool::printable_text()).
std::string format_columns(const std::vector<std::vector<std::string>>& raw_rows);

/// `text` with each of its lines passed through portpool::printable_text(): the line breaks stay,
/// every other control character is escaped. For messages that quote strings from records, etcd,
/// config files or command lines.
std::string printable_lines(std::string_view text);

/// "2024-05-01 12:00:00" in the local time zone.
std::string local_time_text(std::chrono::system_clock::time_point time);

/// "2024-05-01T10:00:00.123Z" (ISO 8601, UTC).
std::string iso8601_utc(std::chrono::system_clock::time_point time);

}  // namespace portpool::cli
