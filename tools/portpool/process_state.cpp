#include "process_state.hpp"

#include <portpool/parse_integer.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <optional>
#include <string_view>

namespace portpool::cli {
namespace {

// Longer than any process's chain of parents: a chain that does not end within it is a loop read
// from a /proc torn by reused pids.
constexpr int longest_ancestry = 4096;

struct ProcessStat {
  char state = '?';
  pid_t parent = -1;
};

// The first bytes of /proc/<pid>/<name>, or nullopt when the process is gone.
std::optional<std::string> read_proc_file(pid_t pid, const char* name) {
  auto path = "/proc/" + std::to_string(pid) + "/" + name;
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!file) {
    return std::nullopt;
  }
  std::array<char, 512> buffer{};
  auto count = ::read(file.get(), buffer.data(), buffer.size());
  if (count <= 0) {
    return std::nullopt;
  }
  return std::string(buffer.data(), static_cast<std::size_t>(count));
}

// The command name (field 2) is in parentheses and may itself contain ") ": the fields are counted
// from the last ')', which is followed by " S PPID ...".
std::optional<ProcessStat> read_stat(pid_t pid) {
  if (pid <= 0) {
    return std::nullopt;
  }
  auto text = read_proc_file(pid, "stat");
  if (!text) {
    return std::nullopt;
  }
  std::string_view stat = *text;
  auto name_end = stat.rfind(')');
  if (name_end == std::string_view::npos || name_end + 4 >= stat.size()) {
    return std::nullopt;
  }
  auto fields = stat.substr(name_end + 2);
  auto parent_field = fields.substr(2);
  auto parent = parse_integer<pid_t>(parent_field.substr(0, parent_field.find(' ')));
  if (!parent) {
    return std::nullopt;
  }
  return ProcessStat{fields[0], *parent};
}

}  // namespace

pid_t parent_of(pid_t pid) {
  auto stat = read_stat(pid);
  return stat ? stat->parent : -1;
}

bool is_running(pid_t pid) {
  auto stat = read_stat(pid);
  return stat && stat->state != 'Z' && stat->state != 'X';
}

bool is_descendant(pid_t pid, pid_t ancestor) {
  for (int step = 0; step < longest_ancestry && pid > 0 && pid != ancestor; ++step) {
    auto parent = parent_of(pid);
    if (parent == ancestor) {
      return true;
    }
    pid = parent;
  }
  return false;
}

std::string process_name(pid_t pid) {
  auto name = read_proc_file(pid, "comm");
  if (!name) {
    return "?";
  }
  if (!name->empty() && name->back() == '\n') {
    name->pop_back();
  }
  return *name;
}

}  // namespace portpool::cli
