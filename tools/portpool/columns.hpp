#pragma once

// Aligned text tables, time stamps and terminal-safe text for the human-readable output.

#include <portpool/transport.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace portpool::cli {

/// The rows (the first one is the header) as lines of left-aligned columns two spaces apart, each
/// cell with its control characters escaped (portpool::printable_text()).
std::string format_columns(const std::vector<std::vector<std::string>>& raw_rows);

/// The port alone for TCP, the usual case; "5353/udp" or "53/both" otherwise. For the lines of
/// `status --watch` and `status --fleet --watch`.
std::string port_text(unsigned port, Transport transport);

/// `rows` with a TRANSPORT column inserted as column number `column` (from 0), holding the
/// transports of the rows after the header in order, when one of them is not tcp; otherwise `rows`
/// as they are, since most pools are TCP ones and the column would only repeat "tcp".
std::vector<std::vector<std::string>> with_transport_column(std::vector<std::vector<std::string>> rows,
                                                            std::size_t column,
                                                            const std::vector<Transport>& transports);

/// `text` with each of its lines passed through portpool::printable_text(): the line breaks stay,
/// every other control character is escaped. For messages that quote strings from records, etcd,
/// config files or command lines.
std::string printable_lines(std::string_view text);

/// "2024-05-01 12:00:00" in the local time zone.
std::string local_time_text(std::chrono::system_clock::time_point time);

/// "2024-05-01T10:00:00.123Z" (ISO 8601, UTC).
std::string iso8601_utc(std::chrono::system_clock::time_point time);

}  // namespace portpool::cli
