#pragma once

// The fields of a port key's value, read in one pass of the JSON parser (its SAX interface) into
// nine slots, without building a document: a listing of the fleet reads thousands of values, and
// a document per value (a map, its nodes, a copy of every string) was most of its time. What is
// kept is exactly what decode_holder() checks: which fields are there, unknown ones, and each
// known field's type and value.

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace portpool::fleet::detail {

/// One field of the value as the parser met it.
struct HolderValueField {
  enum class Type { absent, string, integer, unsigned_integer, other };
  Type type = Type::absent;
  std::string text;                    ///< a string
  std::int64_t integer = 0;            ///< a negative integer
  std::uint64_t unsigned_integer = 0;  ///< a non-negative integer
};

class HolderValue {
 public:
  static constexpr std::array<std::string_view, 9> field_names{
      "service", "instance", "instance_id", "pid", "since", "address", "boot_id", "readiness", "transport"};

  /// Reads `value`; false when it is not one JSON object (malformed, or another JSON value).
  bool read(const std::string& value);

  /// Whether the object had a field not in field_names.
  bool has_unknown_field() const noexcept { return unknown_field_; }

  /// The field named `name` (one of field_names); the last one when the object repeats it.
  HolderValueField& field(std::string_view name);

  // The parser's events (nlohmann::json's SAX interface).
  bool null();
  bool boolean(bool value);
  bool number_integer(nlohmann::json::number_integer_t value);
  bool number_unsigned(nlohmann::json::number_unsigned_t value);
  bool number_float(nlohmann::json::number_float_t value, const nlohmann::json::string_t& text);
  bool string(nlohmann::json::string_t& value);
  bool binary(nlohmann::json::binary_t& value);
  bool start_object(std::size_t elements);
  bool key(nlohmann::json::string_t& name);
  bool end_object();
  bool start_array(std::size_t elements);
  bool end_array();
  bool parse_error(std::size_t position, const std::string& last_token, const nlohmann::json::exception& error);

 private:
  /// The slot of the current field, or nullptr inside a nested value or after an unknown key.
  HolderValueField* current();
  bool other_value();

  std::array<HolderValueField, field_names.size()> fields_;
  std::size_t depth_ = 0;
  int current_ = -1;
  bool object_ = false;
  bool unknown_field_ = false;
};

}  // namespace portpool::fleet::detail
