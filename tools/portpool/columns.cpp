#include "columns.hpp"

#include <portpool/printable_text.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <ctime>

namespace portpool::cli {

std::string format_columns(const std::vector<std::vector<std::string>>& raw_rows) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(raw_rows.size());
  for (const auto& raw_row : raw_rows) {
    auto& row = rows.emplace_back();
    row.reserve(raw_row.size());
    for (const auto& cell : raw_row) {
      row.push_back(printable_text(cell));
    }
  }
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t column = 0; column < row.size(); ++column) {
      line += column + 1 == row.size() ? row[column] : fmt::format("{:<{}}  ", row[column], widths[column]);
    }
    text += line + '\n';
  }
  return text;
}

std::string port_text(unsigned port, Transport transport) {
  return transport == Transport::tcp ? std::to_string(port) : fmt::format("{}/{}", port, to_string(transport));
}

std::vector<std::vector<std::string>> with_transport_column(std::vector<std::vector<std::string>> rows,
                                                            std::size_t column,
                                                            const std::vector<Transport>& transports) {
  if (std::all_of(transports.begin(), transports.end(),
                  [](Transport transport) { return transport == Transport::tcp; })) {
    return rows;
  }
  rows.front().insert(rows.front().begin() + static_cast<std::ptrdiff_t>(column), "TRANSPORT");
  for (std::size_t index = 0; index < transports.size(); ++index) {
    auto& row = rows.at(index + 1);
    row.insert(row.begin() + static_cast<std::ptrdiff_t>(column), to_string(transports[index]));
  }
  return rows;
}

std::string printable_lines(std::string_view text) {
  std::string printable;
  while (true) {
    auto end = text.find('\n');
    printable += printable_text(text.substr(0, end));
    if (end == std::string_view::npos) {
      return printable;
    }
    printable += '\n';
    text.remove_prefix(end + 1);
  }
}

std::string local_time_text(std::chrono::system_clock::time_point time) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S}", fmt::localtime(std::chrono::system_clock::to_time_t(time)));
}

std::string iso8601_utc(std::chrono::system_clock::time_point time) {
  auto milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count() % 1000;
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(time)),
                     milliseconds);
}

}  // namespace portpool::cli
