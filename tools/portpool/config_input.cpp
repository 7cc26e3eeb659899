#include "config_input.hpp"

#include "resource_limits.hpp"

#include <portpool/detail/system_error.hpp>
#include <portpool/detail/unique_fd.hpp>
#include <portpool/error.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>

namespace portpool::cli {
namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO (named pipe)";
  }
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "not a regular file";
}

[[noreturn]] void unreadable(const std::string& path, int error) {
  if (is_resource_error(error)) {
    throw ResourceError(fmt::format("cannot open the config file {}: {}", path, resource_error_text(error)));
  }
  throw ConfigError(fmt::format("cannot read the config file {}: {}; check the path and its permissions", path,
                                detail::errno_text(error)));
}

}  // namespace

std::string read_config_file(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  detail::UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!file) {
    unreadable(path, errno);
  }
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) {
    unreadable(path, errno);
  }
  if (!S_ISREG(status.st_mode)) {
    throw ConfigError(fmt::format("the config file {} is {}: give the path of a TOML file (a regular file)", path,
                                  file_kind(status.st_mode)));
  }
  auto too_large = [&] {
    return ConfigError(
        fmt::format("the config file {} is larger than {} bytes (1 MiB), the most a port table may "
                    "take: give the path of a TOML port table",
                    path, max_config_size));
  };
  if (static_cast<std::size_t>(status.st_size) > max_config_size) {
    throw too_large();
  }
  std::string text(max_config_size + 1, '\0');
  std::size_t length = 0;
  while (length < text.size()) {
    auto count = ::read(file.get(), text.data() + length, text.size() - length);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count < 0) {
      unreadable(path, errno);
    }
    if (count == 0) {
      break;
    }
    length += static_cast<std::size_t>(count);
  }
  if (length > max_config_size) {
    throw too_large();  // it grew while being read
  }
  text.resize(length);
  return text;
}

}  // namespace portpool::cli
