#pragma once

// The check every name that reaches a lock directory goes through, as the ConfigError users see.

#include <portpool/detail/names.hpp>
#include <portpool/detail/printable_text.hpp>
#include <portpool/error.hpp>

#include <fmt/format.h>

#include <string_view>

namespace portpool::detail {

inline void require_valid_name(std::string_view what, std::string_view name) {
  if (!is_valid_name(name)) {
    throw ConfigError(
        fmt::format("{} '{}' is invalid: use 1 to {} letters, digits, '-', '_' or '.' (not starting with '.')", what,
                    printable_text(name), max_name_length));
  }
}

}  // namespace portpool::detail
