#include "resource_limits.hpp"

#include <portpool/error.hpp>

#include <sys/resource.h>

#include <fmt/format.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

namespace portpool::cli {

bool is_resource_error(int error) noexcept {
  return error == EMFILE || error == ENFILE || error == ENOMEM || error == ENOBUFS;
}

std::string resource_error_text(int error) {
  auto text = errno_text(error);
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

void require_free_descriptors(long needed) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) {
    return;
  }
  std::error_code error;
  long open = 0;
  for (std::filesystem::directory_iterator entry("/proc/self/fd", error), end; !error && entry != end;
       entry.increment(error)) {
    ++open;
  }
  if (error) {
    return;  // no /proc: the calls themselves will say
  }
  --open;  // the directory iterator's own descriptor
  auto free = static_cast<long>(limit.rlim_cur) - open;
  if (free < needed) {
    throw ResourceError(
        fmt::format("too few file descriptors: this process may open {} ('ulimit -n'), {} are "
                    "open already, and portpool needs {} more; raise 'ulimit -n' to at least {}",
                    limit.rlim_cur, open, needed, open + needed));
  }
}

}  // namespace portpool::cli
