#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace portpool::detail {

inline std::string errno_text(int error) { return std::system_category().message(error); }

inline std::string last_error_text() { return errno_text(errno); }

/// Whether `error` means the system ran out of something (descriptors, memory, lock records)
/// rather than that the request itself was wrong.
inline bool is_resource_error(int error) {
  return error == EMFILE || error == ENFILE || error == ENOMEM || error == ENOBUFS || error == ENOLCK;
}

}  // namespace portpool::detail
