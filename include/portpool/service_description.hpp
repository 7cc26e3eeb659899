#pragma once

/// @file
/// ServiceDescription: what a holder serves on its port, published in the registry beside it.

#include <portpool/base_errors.hpp>
#include <portpool/detail/message.hpp>
#include <portpool/detail/names.hpp>
#include <portpool/detail/printable_text.hpp>

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace portpool {

/// What a service serves on its port: protocol, health endpoint, version, tags and metadata.
/// Every field is optional. Holders publish it in their record, so `Registry::holders()`,
/// `portpool status` and the gateway's `/api/services` show it, and the gateway probes a holder
/// that declares an HTTP health path.
///
/// The registry is read by other processes, so a description is bounded (see the limits below and
/// `validate_description()`): the holder's record must stay within its 4096 bytes.
///
/// @code
/// portpool::Options options;
/// options.description.protocol = "http";
/// options.description.health_path = "/api/health";
/// options.description.tags = {"gateway", "public"};
/// options.description.metadata["type"] = "api";
/// @endcode
struct ServiceDescription {
  /// The protocol spoken on the port ("http", "ws", "grpc", "tcp", ...): 1 to 16 lowercase
  /// letters, digits, '+', '-' or '.'.
  std::string protocol;
  /// Path of the HTTP health endpoint, such as "/health": starts with '/', printable ASCII without
  /// spaces, at most 256 bytes.
  std::string health_path;
  /// The service's version: printable ASCII without spaces, at most 64 bytes.
  std::string version;
  /// Tags, each a name (1 to 64 letters, digits, '-', '_' or '.'); at most 16, none twice.
  std::vector<std::string> tags;
  /// Key/value metadata: keys are names as for tags, values are printable ASCII of at most 256
  /// bytes; at most 16 entries.
  std::map<std::string, std::string> metadata;

  /// The longest health path, in bytes.
  static constexpr std::size_t max_health_path_length = 256;
  /// The longest metadata value, in bytes.
  static constexpr std::size_t max_metadata_value_length = 256;

  /// Whether nothing is described.
  bool empty() const noexcept {
    return protocol.empty() && health_path.empty() && version.empty() && tags.empty() && metadata.empty();
  }
};

/// Whether two descriptions are the same in every field.
inline bool operator==(const ServiceDescription& left, const ServiceDescription& right) {
  return left.protocol == right.protocol && left.health_path == right.health_path && left.version == right.version &&
         left.tags == right.tags && left.metadata == right.metadata;
}

/// Whether two descriptions differ in a field.
inline bool operator!=(const ServiceDescription& left, const ServiceDescription& right) { return !(left == right); }

namespace detail {

inline constexpr std::size_t max_protocol_length = 16;
inline constexpr std::size_t max_health_path_length = ServiceDescription::max_health_path_length;
inline constexpr std::size_t max_version_length = 64;
inline constexpr std::size_t max_tags = 16;
inline constexpr std::size_t max_metadata_entries = 16;
inline constexpr std::size_t max_metadata_value_length = ServiceDescription::max_metadata_value_length;
// Every field at its limit fits, with the record's own fields, in a 4096-byte record.
inline constexpr std::size_t max_description_size = 3072;

inline bool is_printable_ascii(char c) { return c >= ' ' && c <= '~'; }

inline bool is_valid_protocol(std::string_view protocol) {
  auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
  };
  return !protocol.empty() && protocol.size() <= max_protocol_length &&
         std::all_of(protocol.begin(), protocol.end(), allowed);
}

inline bool is_valid_health_path(std::string_view path) {
  return !path.empty() && path.size() <= max_health_path_length && path.front() == '/' &&
         std::all_of(path.begin(), path.end(), [](char c) { return is_printable_ascii(c) && c != ' '; });
}

inline bool is_valid_version(std::string_view version) {
  return !version.empty() && version.size() <= max_version_length &&
         std::all_of(version.begin(), version.end(), [](char c) { return is_printable_ascii(c) && c != ' '; });
}

inline bool is_valid_metadata_value(std::string_view value) {
  return value.size() <= max_metadata_value_length && std::all_of(value.begin(), value.end(), is_printable_ascii);
}

/// Why `description` cannot be published, or an empty string when it can.
inline std::string description_problem(const ServiceDescription& description) {
  if (!description.protocol.empty() && !is_valid_protocol(description.protocol)) {
    return format_message("the protocol '{}' is invalid: use 1 to {} lowercase letters, digits, '+', '-' or '.'",
                          {printable_text(description.protocol), max_protocol_length});
  }
  if (!description.health_path.empty() && !is_valid_health_path(description.health_path)) {
    return format_message(
        "the health path '{}' is invalid: it must start with '/' and have at most {} printable "
        "ASCII characters, without spaces",
        {printable_text(description.health_path), max_health_path_length});
  }
  if (!description.version.empty() && !is_valid_version(description.version)) {
    return format_message("the version '{}' is invalid: use at most {} printable ASCII characters, without spaces",
                          {printable_text(description.version), max_version_length});
  }
  if (description.tags.size() > max_tags) {
    return format_message("{} tags are too many: give at most {}", {description.tags.size(), max_tags});
  }
  for (auto tag = description.tags.begin(); tag != description.tags.end(); ++tag) {
    if (!is_valid_name(*tag)) {
      return format_message(
          "the tag '{}' is invalid: use 1 to {} letters, digits, '-', '_' or '.' (not starting with '.')",
          {printable_text(*tag), max_name_length});
    }
    if (std::find(description.tags.begin(), tag, *tag) != tag) {
      return format_message("the tag '{}' is given twice: give each tag once", {printable_text(*tag)});
    }
  }
  if (description.metadata.size() > max_metadata_entries) {
    return format_message("{} metadata entries are too many: give at most {}",
                          {description.metadata.size(), max_metadata_entries});
  }
  std::size_t size = description.protocol.size() + description.health_path.size() + description.version.size();
  for (const auto& tag : description.tags) {
    size += tag.size() + 1;
  }
  for (const auto& [key, value] : description.metadata) {
    if (!is_valid_name(key)) {
      return format_message(
          "the metadata key '{}' is invalid: use 1 to {} letters, digits, '-', '_' or '.' (not "
          "starting with '.')",
          {printable_text(key), max_name_length});
    }
    if (!is_valid_metadata_value(value)) {
      return format_message("the metadata value of '{}' is invalid: use at most {} printable ASCII characters",
                            {key, max_metadata_value_length});
    }
    size += key.size() + value.size() + 7;  // "meta." '=' '\n'
  }
  if (size > max_description_size) {
    return format_message(
        "the description takes {} bytes, more than the {} a holder record has room for: shorten "
        "its metadata or tags",
        {size, max_description_size});
  }
  return {};
}

}  // namespace detail

/// Why `description` cannot be published (which field is wrong and what is allowed), or an empty
/// string when it can: validate_description() without the exception.
inline std::string description_problem(const ServiceDescription& description) {
  return detail::description_problem(description);
}

/// Checks `description` against the limits of ServiceDescription.
/// @throws ConfigError saying which field is wrong and what is allowed.
inline void validate_description(const ServiceDescription& description) {
  auto problem = detail::description_problem(description);
  if (!problem.empty()) {
    throw ConfigError("invalid service description: " + problem);
  }
}

/// `description` with every field it leaves empty taken from `defaults` (metadata: entry by entry).
inline ServiceDescription with_defaults(ServiceDescription description, const ServiceDescription& defaults) {
  auto fill = [](std::string& field, const std::string& fallback) {
    if (field.empty()) {
      field = fallback;
    }
  };
  fill(description.protocol, defaults.protocol);
  fill(description.health_path, defaults.health_path);
  fill(description.version, defaults.version);
  if (description.tags.empty()) {
    description.tags = defaults.tags;
  }
  description.metadata.insert(defaults.metadata.begin(), defaults.metadata.end());
  return description;
}

}  // namespace portpool
