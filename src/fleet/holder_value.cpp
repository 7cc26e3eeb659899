#include "holder_value.hpp"

#include <algorithm>
#include <iterator>
#include <utility>

namespace portpool::fleet::detail {

bool HolderValue::read(const std::string& value) { return nlohmann::json::sax_parse(value, this) && object_; }

HolderValueField& HolderValue::field(std::string_view name) {
  const auto* found = std::find(field_names.begin(), field_names.end(), name);
  return fields_.at(static_cast<std::size_t>(std::distance(field_names.begin(), found)));
}

HolderValueField* HolderValue::current() {
  return depth_ == 1 && current_ >= 0 ? &fields_.at(static_cast<std::size_t>(current_)) : nullptr;
}

// A value of a type no field has (null, a boolean, a fraction), or a value at the top level.
bool HolderValue::other_value() {
  if (auto* slot = current()) {
    slot->type = HolderValueField::Type::other;
  }
  return depth_ > 0;  // a top-level scalar is not an object: stop
}

bool HolderValue::null() { return other_value(); }

bool HolderValue::boolean(bool /*value*/) { return other_value(); }

bool HolderValue::number_integer(nlohmann::json::number_integer_t value) {
  if (auto* slot = current()) {
    slot->type = HolderValueField::Type::integer;
    slot->integer = value;
  }
  return depth_ > 0;
}

bool HolderValue::number_unsigned(nlohmann::json::number_unsigned_t value) {
  if (auto* slot = current()) {
    slot->type = HolderValueField::Type::unsigned_integer;
    slot->unsigned_integer = value;
  }
  return depth_ > 0;
}

bool HolderValue::number_float(nlohmann::json::number_float_t /*value*/, const nlohmann::json::string_t& /*text*/) {
  return other_value();
}

bool HolderValue::string(nlohmann::json::string_t& value) {
  if (auto* slot = current()) {
    slot->type = HolderValueField::Type::string;
    slot->text = std::move(value);
  }
  return depth_ > 0;
}

bool HolderValue::binary(nlohmann::json::binary_t& /*value*/) { return other_value(); }

bool HolderValue::start_object(std::size_t /*elements*/) {
  if (depth_ == 0) {
    object_ = true;
  } else {
    other_value();
  }
  ++depth_;
  return true;
}

bool HolderValue::key(nlohmann::json::string_t& name) {
  if (depth_ != 1) {
    return true;
  }
  const auto* found = std::find(field_names.begin(), field_names.end(), name);
  if (found == field_names.end()) {
    unknown_field_ = true;
    current_ = -1;
  } else {
    current_ = static_cast<int>(std::distance(field_names.begin(), found));
  }
  return true;
}

bool HolderValue::end_object() {
  --depth_;
  return true;
}

bool HolderValue::start_array(std::size_t /*elements*/) {
  other_value();
  ++depth_;
  return depth_ > 1;  // a top-level array is not an object: stop
}

bool HolderValue::end_array() {
  --depth_;
  return true;
}

bool HolderValue::parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                              const nlohmann::json::exception& /*error*/) {
  return false;
}

}  // namespace portpool::fleet::detail
