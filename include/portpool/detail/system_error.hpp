#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace portpool::detail {

inline std::string errno_text(int error) { return std::system_category().message(error); }

inline std::string last_error_text() { return errno_text(errno); }

}  // namespace portpool::detail
