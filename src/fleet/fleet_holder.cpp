#include <portpool/fleet/fleet_holder.hpp>

#include <portpool/detail/names.hpp>
#include <portpool/detail/printable_text.hpp>
#include <portpool/error.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/impl/valid_name.hpp>

#include "holder_value.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <ctime>
#include <string_view>
#include <utility>

namespace portpool::fleet {
namespace {

constexpr std::size_t max_prefix_length = 128;
constexpr std::size_t max_address_length = 300;
constexpr std::size_t max_boot_id_length = 64;
constexpr std::int64_t max_pid = 0x7fffffff;
constexpr unsigned max_instance = 1000000;

bool prefix_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '-' ||
         c == '_' || c == '.';
}

bool address_character(char c) { return c > ' ' && c < 0x7f && c != '"' && c != '\\'; }

bool boot_id_character(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'; }

[[noreturn]] void invalid(const std::string& key, std::string_view why) {
  throw InvalidFleetRecord(
      fmt::format("the fleet record {} is invalid: {}", portpool::detail::printable_text(key), why));
}

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  if (digits.empty() || digits.size() > 5 || digits.front() == '0' ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (char c : digits) {
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

// The number written with `count` decimal digits at `at`, or -1 if one is not a digit.
int digits_at(std::string_view text, std::size_t at, std::size_t count) {
  int value = 0;
  for (auto index = at; index < at + count; ++index) {
    if (text[index] < '0' || text[index] > '9') {
      return -1;
    }
    value = value * 10 + (text[index] - '0');
  }
  return value;
}

bool is_leap_year(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
  constexpr std::array<int, 12> days{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : days.at(static_cast<std::size_t>(month - 1));
}

// Days from 1970-01-01 to a valid date of the Gregorian calendar, from 1970 on.
std::int64_t days_since_epoch(int year, int month, int day) {
  auto leap_years_before = [](int until) { return (until - 1) / 4 - (until - 1) / 100 + (until - 1) / 400; };
  constexpr std::array<int, 12> days_before_month{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  return 365LL * (year - 1970) + (leap_years_before(year) - leap_years_before(1970)) +
         days_before_month.at(static_cast<std::size_t>(month - 1)) + (month > 2 && is_leap_year(year) ? 1 : 0) +
         (day - 1);
}

// Exactly the form iso8601_utc() writes (2024-05-01T10:00:00.123Z), every field in its range: a
// listing decodes thousands of these, so the fields are checked in place rather than by a
// round trip through the C library.
std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view text) {
  constexpr std::size_t length = 24;
  if (text.size() != length || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text[19] != '.' || text[23] != 'Z') {
    return std::nullopt;
  }
  const int year = digits_at(text, 0, 4);
  const int month = digits_at(text, 5, 2);
  const int day = digits_at(text, 8, 2);
  const int hour = digits_at(text, 11, 2);
  const int minute = digits_at(text, 14, 2);
  const int second = digits_at(text, 17, 2);
  const int milliseconds = digits_at(text, 20, 3);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 59 || milliseconds < 0) {
    return std::nullopt;
  }
  auto seconds =
      days_since_epoch(year, month, day) * 86400 + std::int64_t{hour} * 3600 + std::int64_t{minute} * 60 + second;
  // system_clock counts nanoseconds here: past about 2262 the conversion would overflow.
  constexpr auto latest =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max()).count() - 1;
  if (seconds > latest) {
    return std::nullopt;
  }
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(seconds) + std::chrono::milliseconds(milliseconds)));
}

std::optional<Readiness> parse_readiness(const std::string& text) {
  for (auto readiness : {Readiness::unknown, Readiness::starting, Readiness::ready, Readiness::stopping}) {
    if (text == to_string(readiness)) {
      return readiness;
    }
  }
  return std::nullopt;
}

detail::HolderValueField& field(detail::HolderValue& value, const std::string& key, const char* name) {
  auto& found = value.field(name);
  if (found.type == detail::HolderValueField::Type::absent) {
    invalid(key, fmt::format("it has no '{}'", name));
  }
  return found;
}

std::string string_field(detail::HolderValue& value, const std::string& key, const char* name) {
  auto& found = field(value, key, name);
  if (found.type != detail::HolderValueField::Type::string) {
    invalid(key, fmt::format("'{}' is not a string", name));
  }
  return std::move(found.text);  // each field is read once
}

std::int64_t integer_field(detail::HolderValue& value, const std::string& key, const char* name, std::int64_t low,
                           std::int64_t high) {
  const auto& found = field(value, key, name);
  std::int64_t number = 0;
  if (found.type == detail::HolderValueField::Type::integer) {
    number = found.integer;
  } else if (found.type == detail::HolderValueField::Type::unsigned_integer) {
    number = found.unsigned_integer > static_cast<std::uint64_t>(high)
                 ? high + 1
                 : static_cast<std::int64_t>(found.unsigned_integer);
  } else {
    invalid(key, fmt::format("'{}' is not an integer", name));
  }
  if (number < low || number > high) {
    invalid(key, fmt::format("'{}' is outside {}..{}", name, low, high));
  }
  return number;
}

}  // namespace

bool operator==(const FleetHolder& a, const FleetHolder& b) {
  return a.host == b.host && a.port == b.port && a.service == b.service && a.instance == b.instance &&
         a.instance_id == b.instance_id && a.pid == b.pid && a.since == b.since && a.address == b.address &&
         a.boot_id == b.boot_id && a.readiness == b.readiness && a.transport == b.transport;
}

void require_valid_prefix(const std::string& prefix) {
  if (prefix.size() < 2 || prefix.size() > max_prefix_length || prefix.front() != '/' || prefix.back() == '/' ||
      !std::all_of(prefix.begin(), prefix.end(), prefix_character)) {
    throw ConfigError(
        fmt::format("the etcd key prefix '{}' is invalid: start it with '/', do not end it with '/', "
                    "and use at most {} letters, digits or '/-_.' (default {})",
                    portpool::detail::printable_text(prefix), max_prefix_length, default_prefix));
  }
}

void require_valid_host_id(const std::string& host) { portpool::detail::require_valid_name("host id", host); }

std::string hosts_prefix(const std::string& prefix) { return prefix + "/hosts/"; }

std::string host_ports_prefix(const std::string& prefix, const std::string& host) {
  return hosts_prefix(prefix) + host + "/ports/";
}

std::string port_key(const std::string& prefix, const std::string& host, std::uint16_t port) {
  return host_ports_prefix(prefix, host) + std::to_string(port);
}

std::string claim_key(const std::string& prefix, std::uint16_t port) {
  return prefix + "/claims/" + std::to_string(port);
}

std::string epoch_key(const std::string& prefix) { return prefix + "/epoch"; }

std::string epoch_settling_key(const std::string& prefix) { return prefix + "/epoch-settling"; }

std::optional<std::pair<std::string, std::uint16_t>> parse_port_key(const std::string& prefix, const std::string& key) {
  auto hosts = hosts_prefix(prefix);
  if (key.size() <= hosts.size() || key.compare(0, hosts.size(), hosts) != 0) {
    return std::nullopt;
  }
  std::string_view rest(key);
  rest.remove_prefix(hosts.size());
  constexpr std::string_view ports = "/ports/";
  auto separator = rest.find(ports);
  if (separator == std::string_view::npos) {
    return std::nullopt;
  }
  auto host = rest.substr(0, separator);
  auto port = parse_port(rest.substr(separator + ports.size()));
  if (!portpool::detail::is_valid_name(host) || !port) {
    return std::nullopt;
  }
  return std::pair<std::string, std::uint16_t>(std::string(host), *port);
}

std::string encode_holder(const FleetHolder& holder) {
  nlohmann::ordered_json value{{"service", holder.service},          {"instance", holder.instance},
                               {"instance_id", holder.instance_id},  {"pid", holder.pid},
                               {"since", iso8601_utc(holder.since)}, {"address", holder.address},
                               {"boot_id", holder.boot_id},          {"readiness", to_string(holder.readiness)}};
  if (holder.transport != Transport::tcp) {
    value["transport"] = to_string(holder.transport);  // absent for TCP, as readers before transports expect
  }
  return value.dump();
}

FleetHolder decode_holder(const std::string& prefix, const std::string& key, const std::string& value) {
  auto location = parse_port_key(prefix, key);
  if (!location) {
    invalid(key, fmt::format("the key is not {}HOST/ports/PORT", hosts_prefix(prefix)));
  }
  if (value.size() > max_value_size) {
    invalid(key, fmt::format("the value has {} bytes, more than {}", value.size(), max_value_size));
  }
  detail::HolderValue object;
  if (!object.read(value)) {
    invalid(key, "the value is not a JSON object");
  }
  if (object.has_unknown_field()) {
    invalid(key, "the value has an unknown field");
  }
  FleetHolder holder;
  holder.host = location->first;
  holder.port = location->second;
  holder.service = string_field(object, key, "service");
  holder.instance = static_cast<unsigned>(integer_field(object, key, "instance", 1, max_instance));
  holder.instance_id = string_field(object, key, "instance_id");
  holder.pid = integer_field(object, key, "pid", 1, max_pid);
  holder.address = string_field(object, key, "address");
  holder.boot_id = string_field(object, key, "boot_id");
  if (!portpool::detail::is_valid_name(holder.service) || !portpool::detail::is_valid_name(holder.instance_id)) {
    invalid(key, "the service or instance id is not a valid name");
  }
  if (holder.address.empty() || holder.address.size() > max_address_length ||
      !std::all_of(holder.address.begin(), holder.address.end(), address_character)) {
    invalid(key, "the address is not HOST:PORT");
  }
  if (holder.boot_id.size() > max_boot_id_length ||
      !std::all_of(holder.boot_id.begin(), holder.boot_id.end(), boot_id_character)) {
    invalid(key, "the boot id is not a boot id");
  }
  auto since = parse_iso8601(string_field(object, key, "since"));
  if (!since) {
    invalid(key, "'since' is not an ISO 8601 UTC time like 2024-05-01T10:00:00.123Z");
  }
  holder.since = *since;
  auto readiness = parse_readiness(string_field(object, key, "readiness"));
  if (!readiness) {
    invalid(key, "'readiness' is not unknown, starting, ready or stopping");
  }
  holder.readiness = *readiness;
  if (object.field("transport").type != detail::HolderValueField::Type::absent) {
    auto transport = parse_transport(string_field(object, key, "transport"));
    if (!transport) {
      invalid(key, "'transport' is not tcp, udp or both");
    }
    holder.transport = *transport;
  }
  return holder;
}

FleetHolder fleet_holder_of(const Holder& holder, const std::string& host, const std::string& address_host,
                            const std::string& boot_id) {
  FleetHolder published;
  published.host = host;
  published.port = holder.port;
  published.service = holder.service;
  published.instance = holder.instance;
  published.instance_id = holder.instance_id;
  published.pid = holder.pid;
  published.since = std::chrono::time_point_cast<std::chrono::milliseconds>(holder.since);
  published.address = fmt::format("{}:{}", address_host, holder.port);
  published.boot_id = boot_id;
  published.readiness = holder.readiness;
  published.transport = holder.transport;
  return published;
}

std::string iso8601_utc(std::chrono::system_clock::time_point time) {
  auto since_epoch = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  auto seconds = static_cast<std::time_t>(since_epoch / 1000);
  std::tm fields{};
  ::gmtime_r(&seconds, &fields);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fields, since_epoch % 1000);
}

}  // namespace portpool::fleet
