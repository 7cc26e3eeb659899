#include "resource_limits.hpp"

#include <portpool/detail/system_error.hpp>

#include <sys/resource.h>

#include <fmt/format.h>

#include <cerrno>

namespace portpool::cli {

bool is_resource_error(int error) noexcept {
  return error == EMFILE || error == ENFILE || error == ENOMEM || error == ENOBUFS;
}

std::string resource_error_text(int error) {
  auto text = detail::errno_text(error);
  if (error == EMFILE) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      return fmt::format("{} (this process may open {} descriptors: raise 'ulimit -n', or close some)", text,
                         limit.rlim_cur);
    }
  }
  if (error == ENFILE) {
    return fmt::format("{} (the system-wide limit of open files, fs.file-max, is reached)", text);
  }
  if (error == ENOMEM || error == ENOBUFS) {
    return fmt::format("{} (out of memory)", text);
  }
  return text;
}

}  // namespace portpool::cli
