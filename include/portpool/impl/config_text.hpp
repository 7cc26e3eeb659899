#pragma once

// Reading a config file defensively: it is read only when it is a regular file of at most
// max_config_size bytes, so that a FIFO, a device (/dev/zero) or a huge file is refused at once
// instead of hanging or filling the memory, and every failure names its cause.

#include <portpool/detail/system_error.hpp>
#include <portpool/error.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstddef>
#include <string>

namespace portpool::detail {

inline constexpr std::size_t max_config_size = std::size_t{1024} * 1024;

inline const char* file_kind(mode_t mode) {
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

[[noreturn]] inline void throw_unreadable_config(const std::string& path, int error) {
  if (is_resource_error(error)) {
    throw ResourceError(
        fmt::format("cannot read the config file {}: {}; release some descriptors or memory, or raise "
                    "the limit ('ulimit -n'), then try again",
                    path, errno_text(error)));
  }
  throw ConfigError(
      fmt::format("cannot read the config file {}: {}; check the path and its permissions", path, errno_text(error)));
}

[[noreturn]] inline void throw_config_too_large(const std::string& path) {
  throw ConfigError(fmt::format(
      "the config file {} is larger than {} bytes (1 MiB), the most a port table may take: give the path of a TOML "
      "port table",
      path, max_config_size));
}

/// The whole text of the config file `path`.
/// @throws ConfigError when it is not a regular file, is larger than max_config_size or cannot
/// be read; ResourceError when descriptors or memory run out.
inline std::string read_config_text(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  struct stat status {};
  if (!file || ::fstat(file.get(), &status) != 0) {
    throw_unreadable_config(path, errno);
  }
  if (!S_ISREG(status.st_mode)) {
    throw ConfigError(fmt::format("the config file {} is {}: give the path of a TOML file (a regular file)", path,
                                  file_kind(status.st_mode)));
  }
  if (static_cast<std::size_t>(status.st_size) > max_config_size) {
    throw_config_too_large(path);
  }
  std::string text(max_config_size + 1, '\0');
  std::size_t length = 0;
  while (length < text.size()) {
    auto count = ::read(file.get(), text.data() + length, text.size() - length);
    if (count < 0 && errno == EINTR) {
      continue;
    }
    if (count < 0) {
      throw_unreadable_config(path, errno);
    }
    if (count == 0) {
      break;
    }
    length += static_cast<std::size_t>(count);
  }
  if (length > max_config_size) {
    throw_config_too_large(path);  // it grew while being read
  }
  text.resize(length);
  return text;
}

}  // namespace portpool::detail
