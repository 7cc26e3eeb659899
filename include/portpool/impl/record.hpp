#pragma once

// Holder records: who holds a lock, written into the lock file itself by its holder.
//
// The record lives in the locked file so that publishing it costs one pwrite and no directory
// operation (creating, renaming and unlinking a separate file were most of the cost of an
// acquisition on a journaled filesystem). Readers open the lock file read-only: with
// open-file-description locks, opening and closing another descriptor of a locked file never
// drops the lock, even in the holder's own process.
//
// A reader can meet a record being rewritten (pread is not atomic against pwrite) or a record
// left by an earlier holder. So a record starts with a header giving the body's length and an
// FNV-1a checksum of it: a torn or truncated read fails the check and is read again. Whether the
// record is current is for the caller to decide (the lock must be held and its recorded pid
// alive). Any process that can write to the lock directory can write these bytes, so the parser
// treats them as hostile input: bounded size, strict syntax, every key at most once.

#include <portpool/detail/message.hpp>
#include <portpool/detail/names.hpp>
#include <portpool/detail/parse_number.hpp>
#include <portpool/holder.hpp>
#include <portpool/service_description.hpp>
#include <portpool/transport.hpp>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portpool::detail {

inline constexpr std::string_view record_magic = "portpool-record 2 ";
inline constexpr std::size_t max_record_size = 4096;
inline constexpr std::string_view metadata_key_prefix = "meta.";

inline std::uint64_t record_checksum(std::string_view body) {
  std::uint64_t hash = 14695981039346656037ULL;  // FNV-1a, 64 bits
  for (char byte : body) {
    hash = (hash ^ static_cast<unsigned char>(byte)) * 1099511628211ULL;
  }
  return hash;
}

// The record's lines are appended piece by piece to a std::string (integers through
// MessageArgument, which writes decimals): the core headers include no {fmt} (detail/message.hpp).
inline void append_line(std::string& body, std::string_view key, const MessageArgument& value) {
  body.append(key);
  body.push_back('=');
  body.append(value.text());
  body.push_back('\n');
}

// The description's lines: "protocol=", "health=", "version=", "tags=a,b" and one "meta.KEY=" per
// entry, each only when set. Readers before descriptions ignore them as a newer writer's keys.
inline void append_description(std::string& body, const ServiceDescription& description) {
  auto append = [&body](std::string_view key, std::string_view value) {
    if (!value.empty()) {
      append_line(body, key, value);
    }
  };
  append("protocol", description.protocol);
  append("health", description.health_path);
  append("version", description.version);
  if (!description.tags.empty()) {
    body.append("tags=");
    for (std::size_t index = 0; index < description.tags.size(); ++index) {
      if (index != 0) {
        body.push_back(',');
      }
      body.append(description.tags[index]);
    }
    body.push_back('\n');
  }
  for (const auto& [key, value] : description.metadata) {
    body.append(metadata_key_prefix);
    append_line(body, key, value);
  }
}

inline void format_record_body_to(std::string& body, const Holder& holder) {
  auto since = std::chrono::duration_cast<std::chrono::milliseconds>(holder.since.time_since_epoch()).count();
  append_line(body, "port", holder.port);
  append_line(body, "service", holder.service);
  append_line(body, "pid", holder.pid);
  append_line(body, "instance", holder.instance);
  append_line(body, "instance_id", holder.instance_id);
  append_line(body, "since_ms", since);
  if (holder.readiness != Readiness::unknown) {
    append_line(body, "readiness", to_string(holder.readiness));
  }
  // Written only when not TCP: a reader before transports ignores it, and reads a TCP record as before.
  if (holder.transport != Transport::tcp) {
    append_line(body, "transport", to_string(holder.transport));
  }
  if (holder.application_pid != 0) {
    append_line(body, "application_pid", holder.application_pid);
  }
  append_description(body, holder.description);
}

inline std::string format_record_body(const Holder& holder) {
  std::string body;
  format_record_body_to(body, holder);
  return body;
}

/// The whole record: header (length and checksum of the body), then the body. The body is
/// formatted first, then the header, built on the stack, is inserted before it: one allocation for
/// a record within the 512 bytes reserved (any record without a long description).
inline std::string format_record(const Holder& holder) {
  std::string record;
  record.reserve(512);
  format_record_body_to(record, holder);
  std::array<char, 64> header{};
  std::size_t header_size = 0;
  auto append_header = [&header, &header_size](std::string_view text) {
    for (char character : text) {
      header[header_size++] = character;
    }
  };
  append_header(record_magic);
  append_header(MessageArgument(record.size()).text());
  append_header(" ");
  auto checksum = record_checksum(record);
  constexpr std::string_view hex_digits = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) {
    header[header_size++] = hex_digits[(checksum >> shift) & 0xf];
  }
  append_header("\n");
  record.insert(0, header.data(), header_size);
  return record;
}

inline bool parse_since(std::string_view value, Holder& holder) {
  // Beyond what the clock can hold, converting to its finer unit would overflow.
  constexpr auto latest =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::duration::max()).count();
  auto milliseconds = parse_integer<std::int64_t>(value);
  if (!milliseconds || *milliseconds > latest) {
    return false;
  }
  holder.since = std::chrono::system_clock::time_point(std::chrono::milliseconds(*milliseconds));
  return true;
}

inline bool parse_readiness(std::string_view value, Holder& holder) {
  for (auto candidate : {Readiness::starting, Readiness::ready, Readiness::stopping}) {
    if (value == to_string(candidate)) {
      holder.readiness = candidate;
      return true;
    }
  }
  return false;
}

template <class Integer>
bool parse_field_number(std::string_view value, Integer& into) {
  auto parsed = parse_integer<Integer>(value);
  if (parsed) {
    into = *parsed;
  }
  return parsed.has_value();
}

inline bool parse_tags(std::string_view value, ServiceDescription& description) {
  while (true) {
    auto comma = value.find(',');
    auto tag = value.substr(0, comma);
    if (!is_valid_name(tag) || description.tags.size() == max_tags ||
        std::find(description.tags.begin(), description.tags.end(), tag) != description.tags.end()) {
      return false;
    }
    description.tags.emplace_back(tag);
    if (comma == std::string_view::npos) {
      return true;
    }
    value.remove_prefix(comma + 1);
  }
}

inline bool parse_metadata(std::string_view key, std::string_view value, ServiceDescription& description) {
  return is_valid_name(key) && is_valid_metadata_value(value) && description.metadata.size() < max_metadata_entries &&
         description.metadata.emplace(key, value).second;
}

// A key of the description; nullopt when `key` is not one.
inline std::optional<bool> parse_description_field(std::string_view key, std::string_view value,
                                                   ServiceDescription& description) {
  if (key == "protocol") {
    description.protocol = value;
    return is_valid_protocol(value);
  }
  if (key == "health") {
    description.health_path = value;
    return is_valid_health_path(value);
  }
  if (key == "version") {
    description.version = value;
    return is_valid_version(value);
  }
  if (key == "tags") {
    return parse_tags(value, description);
  }
  if (key.substr(0, metadata_key_prefix.size()) == metadata_key_prefix) {
    return parse_metadata(key.substr(metadata_key_prefix.size()), value, description);
  }
  return std::nullopt;
}

inline bool parse_record_field(std::string_view key, std::string_view value, Holder& holder) {
  if (auto parsed = parse_description_field(key, value, holder.description)) {
    return *parsed;
  }
  if (key == "port") {
    return parse_field_number(value, holder.port);
  }
  if (key == "service") {
    holder.service = value;
    return value.empty() || is_valid_name(value);
  }
  if (key == "pid") {
    return parse_field_number(value, holder.pid) && holder.pid > 0;
  }
  if (key == "instance") {
    return parse_field_number(value, holder.instance);
  }
  if (key == "instance_id") {
    holder.instance_id = value;
    return value.empty() || is_valid_name(value);
  }
  if (key == "since_ms") {
    return parse_since(value, holder);
  }
  if (key == "readiness") {
    return parse_readiness(value, holder);
  }
  if (key == "application_pid") {
    return parse_field_number(value, holder.application_pid) && holder.application_pid > 0;
  }
  if (key == "transport") {
    auto transport = parse_transport(value);
    holder.transport = transport.value_or(Transport::tcp);
    return transport.has_value();
  }
  return is_valid_name(key);  // a newer writer's extra field: ignored, but it must look like a key
}

inline constexpr std::array<std::string_view, 6> required_record_keys = {"port",     "service",     "pid",
                                                                         "instance", "instance_id", "since_ms"};

/// Parses the body of a record: one `key=value` line per key, each key at most once, every
/// required key present. Nullopt for anything else.
inline std::optional<Holder> parse_record_body(std::string_view body) {
  Holder holder;
  std::vector<std::string_view> seen;
  seen.reserve(required_record_keys.size() + 1);  // one allocation for a record of today's writers
  while (!body.empty()) {
    auto end = body.find('\n');
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    auto line = body.substr(0, end);
    body.remove_prefix(end + 1);
    auto equals = line.find('=');
    if (equals == std::string_view::npos) {
      return std::nullopt;
    }
    auto key = line.substr(0, equals);
    if (std::find(seen.begin(), seen.end(), key) != seen.end() ||
        !parse_record_field(key, line.substr(equals + 1), holder)) {
      return std::nullopt;
    }
    seen.push_back(key);
  }
  for (auto key : required_record_keys) {
    if (std::find(seen.begin(), seen.end(), key) == seen.end()) {
      return std::nullopt;
    }
  }
  return holder;
}

/// Parses a whole record (header and body) from the start of `text`; bytes after the body (left
/// by a longer earlier record) are ignored. Nullopt when malformed, torn or truncated.
inline std::optional<Holder> parse_record(std::string_view text) {
  if (text.substr(0, record_magic.size()) != record_magic) {
    return std::nullopt;
  }
  text.remove_prefix(record_magic.size());
  auto header_end = text.find('\n');
  auto space = text.find(' ');
  if (header_end == std::string_view::npos || space == std::string_view::npos || space > header_end) {
    return std::nullopt;
  }
  auto length = parse_integer<std::size_t>(text.substr(0, space));
  auto checksum = parse_integer<std::uint64_t>(text.substr(space + 1, header_end - space - 1), 16);
  text.remove_prefix(header_end + 1);
  if (!length || !checksum || *length > max_record_size || *length > text.size()) {
    return std::nullopt;
  }
  auto body = text.substr(0, *length);
  if (record_checksum(body) != *checksum) {
    return std::nullopt;
  }
  return parse_record_body(body);
}

/// Writes `holder`'s record at the start of the lock file `fd`, in one pwrite. 0, or the errno of
/// the failure (ENOSPC when the file takes no more bytes): the caller names the file in its error.
inline int write_record(int fd, const Holder& holder) {
  auto text = format_record(holder);
  std::size_t written = 0;
  while (written < text.size()) {
    auto count = ::pwrite(fd, text.data() + written, text.size() - written, static_cast<off_t>(written));
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count <= 0) {
      return count < 0 ? errno : ENOSPC;
    }
    written += static_cast<std::size_t>(count);
  }
  return 0;
}

/// Spoils the record at the start of the file `fd` so that it is no longer read as one.
inline void retire_record(int fd) noexcept {
  constexpr char retired = 'x';
  static_cast<void>(::pwrite(fd, &retired, 1, 0));  // a failure leaves a record readers check anyway
}

/// Reads the record at the start of the file `fd`; nullopt when there is none, or it is
/// malformed. A record that fails its checksum is read again a few times: it may have been
/// caught in the middle of a rewrite.
inline std::optional<Holder> read_record(int fd) {
  constexpr int reads = 4;
  std::array<char, max_record_size + 128> buffer;  // only the bytes pread returns are read
  for (int attempt = 0; attempt < reads; ++attempt) {
    auto count = ::pread(fd, buffer.data(), buffer.size(), 0);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count <= 0) {
      return std::nullopt;
    }
    std::string_view text(buffer.data(), static_cast<std::size_t>(count));
    if (text.substr(0, record_magic.size()) != record_magic) {
      return std::nullopt;  // not a record at all: reading again will not help
    }
    if (auto holder = parse_record(text)) {
      return holder;
    }
  }
  return std::nullopt;
}

}  // namespace portpool::detail
