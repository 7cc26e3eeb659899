#include "child_launch.hpp"
#include "resource_limits.hpp"

#include "bind_adoption.hpp"
#include "exit_codes.hpp"
#include "keeper.hpp"

#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <string_view>
#include <system_error>

namespace portpool::cli {
namespace {

constexpr int listen_fds_start = 3;  // SD_LISTEN_FDS_START
constexpr int passed_sockets_end = listen_fds_start + max_passed_sockets;
constexpr const char* this_program = "/proc/self/exe";

[[noreturn]] void throw_system_error(const char* what) { throw std::system_error(errno, std::system_category(), what); }

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (auto& text : strings) {
    result.push_back(text.data());
  }
  result.push_back(nullptr);
  return result;
}

// The terminal whose foreground this process group is, among descriptors 0 to 2, or -1: CMD is
// given the foreground, so that Ctrl-C, Ctrl-Z and reads from the terminal work as without portpool.
int foreground_terminal() {
  for (int descriptor : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO}) {
    if (::isatty(descriptor) == 1 && ::tcgetpgrp(descriptor) == ::getpgrp()) {
      return descriptor;
    }
  }
  return -1;
}

std::vector<std::string> keeper_arguments(const LaunchRequest& request, int report) {
  std::vector<std::string> arguments{"portpool",
                                     keeper_command,
                                     std::to_string(::getpid()),
                                     std::to_string(report),
                                     std::to_string(foreground_terminal()),
                                     std::to_string(request.kill_grace.count()),
                                     request.forking ? "1" : "0",
                                     std::to_string(request.pid_file_timeout.count()),
                                     request.pid_file,
                                     request.program};
  arguments.insert(arguments.end(), request.arguments.begin(), request.arguments.end());
  return arguments;
}

// Between fork and exec only async-signal-safe calls: the parent may have other threads. The
// keeper re-executes this program, so it starts single-threaded. Every socket is first copied above
// the passed descriptors (close-on-exec), so that putting one in place never overwrites another.
[[noreturn]] void exec_keeper(const LaunchRequest& request, char* const* argv, char* const* envp, int report,
                              pid_t parent) {
  if (request.lock_descriptor >= 0) {
    ::fcntl(request.lock_descriptor, F_DUPFD, passed_sockets_end);  // the same open file, kept across exec
  }
  std::array<int, max_passed_sockets> copies{};
  const std::size_t count = std::min(request.sockets.size(), copies.size());
  for (std::size_t index = 0; index < count; ++index) {
    copies[index] = ::fcntl(request.sockets[index], F_DUPFD_CLOEXEC, passed_sockets_end);
  }
  for (std::size_t index = 0; index < count; ++index) {
    if (copies[index] < 0 || ::dup2(copies[index], listen_fds_start + static_cast<int>(index)) < 0) {
      KeeperReport failure{KeeperReport::keeper_failed, errno};
      static_cast<void>(::write(report, &failure, sizeof failure));
      ::_exit(exit_code::system_failure);
    }
  }
  ::fcntl(report, F_SETFD, 0);
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent) {
    ::_exit(exit_code::system_failure);
  }
  ::execve(this_program, argv, envp);
  KeeperReport failure{KeeperReport::keeper_failed, errno};
  static_cast<void>(::write(report, &failure, sizeof failure));
  ::_exit(exit_code::system_failure);
}

// The report pipe must not land on a descriptor that the child overwrites with a passed socket.
UniqueFd above_passed_sockets(int descriptor) {
  UniqueFd original(descriptor);
  UniqueFd moved(::fcntl(descriptor, F_DUPFD_CLOEXEC, passed_sockets_end));
  if (!moved) {
    throw_system_error("fcntl");
  }
  return moved;
}

KeeperReport read_report(int descriptor) {
  KeeperReport report;
  ssize_t count = 0;
  while ((count = ::read(descriptor, &report, sizeof report)) < 0 && errno == EINTR) {
  }
  if (count != static_cast<ssize_t>(sizeof report)) {
    return KeeperReport{KeeperReport::keeper_failed, count < 0 ? errno : EPIPE};
  }
  return report;
}

CommandError launch_failure(const LaunchRequest& request, const KeeperReport& report) {
  if (report.kind == KeeperReport::exec_failed) {
    auto code = report.value == ENOENT ? exit_code::command_not_found : exit_code::command_not_executable;
    return {fmt::format("cannot run {}: {}", request.program, errno_text(report.value)), code};
  }
  return {fmt::format("cannot start the keeper of CMD's process tree ({} re-executed): {}", this_program,
                      errno_text(report.value)),
          exit_code::system_failure};
}

}  // namespace

LaunchedCommand launch(const LaunchRequest& request) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    throw_system_error("pipe2");
  }
  UniqueFd report_read(report[0]);
  auto report_write = above_passed_sockets(report[1]);
  auto arguments = keeper_arguments(request, report_write.get());
  auto environment = request.environment;
  if (request.adopt_by_seccomp) {
    environment.push_back(fmt::format("{}={}", adopted_ports_variable, fmt::join(request.adopted_ports, ",")));
  }
  auto argv = pointers(arguments);
  auto envp = pointers(environment);

  const pid_t parent = ::getpid();
  const pid_t keeper = ::fork();
  if (keeper < 0) {
    throw_system_error("fork");
  }
  if (keeper == 0) {
    exec_keeper(request, argv.data(), envp.data(), report_write.get(), parent);
  }
  report_write.reset();
  auto started = read_report(report_read.get());
  if (started.kind != KeeperReport::started) {
    while (::waitpid(keeper, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw launch_failure(request, started);
  }
  return {keeper, static_cast<pid_t>(started.value), request.forking};
}

}  // namespace portpool::cli
