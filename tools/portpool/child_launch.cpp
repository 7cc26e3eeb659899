#include "child_launch.hpp"

#include "exit_codes.hpp"

#include <portpool/detail/system_error.hpp>
#include <portpool/detail/unique_fd.hpp>

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <string_view>
#include <system_error>

namespace portpool::cli {
namespace {

constexpr int listen_fds_start = 3;  // SD_LISTEN_FDS_START
constexpr std::string_view listen_pid_prefix = "LISTEN_PID=";

[[noreturn]] void throw_system_error(const char* what) { throw std::system_error(errno, std::system_category(), what); }

// Async-signal-safe: runs in the child between fork and exec.
void write_decimal(char* into, pid_t value) {
  char digits[16];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0);
  while (count > 0) {
    *into++ = digits[--count];
  }
  *into = '\0';
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (auto& text : strings) {
    result.push_back(text.data());
  }
  result.push_back(nullptr);
  return result;
}

// Between fork and exec only async-signal-safe calls: the parent may have other threads.
[[noreturn]] void exec_child(const LaunchRequest& request, char* const* argv, char* const* envp, char* listen_pid,
                             int error_report, pid_t parent) {
  if (request.listening_socket >= 0) {
    if (request.listening_socket == listen_fds_start) {
      ::fcntl(listen_fds_start, F_SETFD, 0);
    } else {
      ::dup2(request.listening_socket, listen_fds_start);
    }
    write_decimal(listen_pid + listen_pid_prefix.size(), ::getpid());
  }
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent) {
    ::_exit(exit_code::system_failure);
  }
  ::sigprocmask(SIG_SETMASK, &request.signal_mask, nullptr);
  ::execve(request.program.c_str(), argv, envp);
  int error = errno;
  static_cast<void>(::write(error_report, &error, sizeof error));
  ::_exit(exit_code::command_not_found);
}

// The report pipe must not land on descriptor 3, which the child overwrites.
detail::UniqueFd above_listen_fds(int descriptor) {
  detail::UniqueFd original(descriptor);
  detail::UniqueFd moved(::fcntl(descriptor, F_DUPFD_CLOEXEC, listen_fds_start + 1));
  if (!moved) {
    throw_system_error("fcntl");
  }
  return moved;
}

CommandError exec_failure(const LaunchRequest& request, int error) {
  auto code = error == ENOENT ? exit_code::command_not_found : exit_code::command_not_executable;
  return {fmt::format("cannot run {}: {}", request.program, detail::errno_text(error)), code};
}

}  // namespace

pid_t launch(const LaunchRequest& request) {
  auto arguments = request.arguments;
  auto environment = request.environment;
  std::string listen_pid(listen_pid_prefix);
  listen_pid.resize(listen_pid_prefix.size() + 16, '\0');
  if (request.listening_socket >= 0) {
    environment.push_back(listen_pid);
  }
  auto argv = pointers(arguments);
  auto envp = pointers(environment);
  char* listen_pid_entry = request.listening_socket >= 0 ? envp[environment.size() - 1] : nullptr;

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) {
    throw_system_error("pipe2");
  }
  detail::UniqueFd report_read(report[0]);
  auto report_write = above_listen_fds(report[1]);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    throw_system_error("fork");
  }
  if (child == 0) {
    exec_child(request, argv.data(), envp.data(), listen_pid_entry, report_write.get(), parent);
  }
  report_write.reset();
  int error = 0;
  ssize_t count = 0;
  while ((count = ::read(report_read.get(), &error, sizeof error)) < 0 && errno == EINTR) {
  }
  if (count > 0) {
    while (::waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw exec_failure(request, error);
  }
  return child;
}

}  // namespace portpool::cli
