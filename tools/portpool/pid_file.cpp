#include "pid_file.hpp"

#include "process_state.hpp"
#include "resource_limits.hpp"

#include <portpool/parse_integer.hpp>
#include <portpool/printable_text.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <optional>
#include <string_view>

namespace portpool::cli {
namespace {

// A pid, a newline and some spaces; anything longer is not a pid file.
constexpr std::size_t longest_pid_file = 64;

std::string_view kind_of_file(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "a directory";
    case S_IFIFO:
      return "a named pipe";
    case S_IFSOCK:
      return "a socket";
    case S_IFCHR:
      return "a character device";
    case S_IFBLK:
      return "a block device";
    default:
      return "not a regular file";
  }
}

std::string quoted(const std::string& path) { return "'" + printable_text(path) + "'"; }

std::string symbolic_link_problem(const std::string& path) {
  return fmt::format(
      "the pid file {} is a symbolic link: portpool follows no link to a pid, which could name any process; give the "
      "path of the file the daemon writes itself",
      quoted(path));
}

// What lstat() says of `path`, as a reading; nullopt when it is a regular file.
std::optional<PidFileReading> check_type(const std::string& path, const struct stat& status) {
  if (S_ISLNK(status.st_mode)) {
    return PidFileReading{PidFileReading::Kind::refused, -1, symbolic_link_problem(path)};
  }
  if (!S_ISREG(status.st_mode)) {
    return PidFileReading{PidFileReading::Kind::refused, -1,
                          fmt::format("the pid file {} is {}: give the regular file the daemon writes its pid to",
                                      quoted(path), kind_of_file(status.st_mode))};
  }
  return std::nullopt;
}

PidFileReading unreadable(const std::string& path, int error) {
  return {PidFileReading::Kind::refused, -1,
          fmt::format("cannot read the pid file {}: {}", quoted(path), errno_text(error))};
}

// The text of the regular file `path`, opened without following a link or blocking; nullopt (with
// `reading` set) when it cannot be read as such.
std::optional<std::string> read_text(const std::string& path, const struct stat& seen, PidFileReading& reading) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!file) {
    int error = errno;
    if (error == ENOENT) {
      reading = {PidFileReading::Kind::absent, -1, fmt::format("the pid file {} does not exist", quoted(path))};
    } else if (error == ELOOP) {
      reading = {PidFileReading::Kind::refused, -1, symbolic_link_problem(path)};
    } else {
      reading = unreadable(path, error);
    }
    return std::nullopt;
  }
  struct stat opened {};
  if (::fstat(file.get(), &opened) != 0 || opened.st_dev != seen.st_dev || opened.st_ino != seen.st_ino) {
    reading = {PidFileReading::Kind::no_process, -1,
               fmt::format("the pid file {} was being replaced", quoted(path))};  // read again next time
    return std::nullopt;
  }
  std::array<char, longest_pid_file + 1> buffer{};
  ssize_t count = 0;
  while ((count = ::read(file.get(), buffer.data(), buffer.size())) < 0 && errno == EINTR) {
  }
  if (count < 0) {
    reading = unreadable(path, errno);
    return std::nullopt;
  }
  return std::string(buffer.data(), static_cast<std::size_t>(count));
}

std::string_view trimmed(std::string_view text) {
  constexpr std::string_view blanks = " \t\r\n";
  auto begin = text.find_first_not_of(blanks);
  if (begin == std::string_view::npos) {
    return {};
  }
  return text.substr(begin, text.find_last_not_of(blanks) - begin + 1);
}

}  // namespace

PidFileReading read_pid_file(const std::string& path, pid_t tree_root) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) {
    if (errno == ENOENT) {
      return {PidFileReading::Kind::absent, -1, fmt::format("the pid file {} does not exist", quoted(path))};
    }
    return unreadable(path, errno);
  }
  if (auto refusal = check_type(path, status)) {
    return *refusal;
  }
  PidFileReading reading;
  auto text = read_text(path, status, reading);
  if (!text) {
    return reading;
  }
  auto number = trimmed(*text);
  auto pid = text->size() <= longest_pid_file ? parse_integer<pid_t>(number) : std::nullopt;
  if (!pid || *pid <= 0) {
    return {PidFileReading::Kind::no_process, -1,
            fmt::format("the pid file {} holds '{}', not a pid", quoted(path),
                        printable_text(number.substr(0, longest_pid_file)))};
  }
  if (!is_running(*pid)) {
    return {PidFileReading::Kind::no_process, -1,
            fmt::format("the pid file {} names pid {}, which is not running", quoted(path), *pid)};
  }
  if (!is_descendant(*pid, tree_root)) {
    return {PidFileReading::Kind::refused, -1,
            fmt::format("the pid file {} names pid {} ({}), which is not a process of CMD's tree: portpool signals no "
                        "process outside it. If the file was left by an earlier run, remove it",
                        quoted(path), *pid, printable_text(process_name(*pid)))};
  }
  return {PidFileReading::Kind::main_process, *pid, {}};
}

std::string unusable_pid_file(const std::string& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) {
    return {};
  }
  auto refusal = check_type(path, status);
  return refusal ? refusal->problem : std::string();
}

}  // namespace portpool::cli
