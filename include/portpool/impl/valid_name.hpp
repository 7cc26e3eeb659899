#pragma once

// The checks every name, and the application pid, that reach a lock record go through, as the
// ConfigError users see.

#include <portpool/detail/message.hpp>
#include <portpool/detail/names.hpp>
#include <portpool/detail/printable_text.hpp>
#include <portpool/error.hpp>

#include <sys/types.h>

#include <string_view>

namespace portpool::detail {

inline void require_valid_name(std::string_view what, std::string_view name) {
  if (!is_valid_name(name)) {
    throw ConfigError(
        format_message("{} '{}' is invalid: use 1 to {} letters, digits, '-', '_' or '.' (not starting with '.')",
                       {what, printable_text(name), max_name_length}));
  }
}

inline void require_valid_application_pid(pid_t application_pid) {
  if (application_pid < 0) {
    throw ConfigError(
        format_message("application pid {} is invalid: name a process by its pid (from 1), or leave 0 for "
                       "this process",
                       {application_pid}));
  }
}

}  // namespace portpool::detail
