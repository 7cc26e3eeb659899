#pragma once

// Real child processes for tests: fork + exec, with pipes on stdin, stdout and stderr.

#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace portpool::test {

/// The text of a file under /proc (/proc/PID/stat, /proc/PID/comm...), empty when it cannot be
/// read. A process that exits while its file is read makes read() fail with ESRCH, on which a
/// std::ifstream throws (libstdc++'s filebuf): the tests read such files of processes that end.
inline std::string proc_file_text(const std::string& path) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::string text;
  char buffer[4096];
  ssize_t count = 0;
  while (file && (count = ::read(file.get(), buffer, sizeof buffer)) > 0) {
    text.append(buffer, static_cast<std::size_t>(count));
  }
  return count < 0 ? std::string() : text;
}

/// Waits until `condition()` holds, checking every few milliseconds; false on timeout.
template <class Condition>
bool wait_until(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class ChildProcess {
 public:
  /// Starts `argv` with the current environment plus `environment` ("NAME=value" entries).
  static ChildProcess spawn(const std::vector<std::string>& argv, const std::vector<std::string>& environment = {}) {
    std::vector<std::string> env_strings;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      env_strings.emplace_back(*entry);
    }
    env_strings.insert(env_strings.end(), environment.begin(), environment.end());
    auto arguments = pointers(argv);
    auto variables = pointers(env_strings);

    int input[2];
    int output[2];
    int errors[2];
    if (::pipe2(input, O_CLOEXEC) != 0 || ::pipe2(output, O_CLOEXEC) != 0 || ::pipe2(errors, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
      ::dup2(input[0], 0);
      ::dup2(output[1], 1);
      ::dup2(errors[1], 2);
      ::execve(arguments[0], arguments.data(), variables.data());
      ::_exit(127);
    }
    ::close(input[0]);
    ::close(output[1]);
    ::close(errors[1]);
    ChildProcess child;
    child.pid_ = pid;
    child.stdin_.reset(input[1]);
    child.stdout_.reset(output[0]);
    child.stderr_.reset(errors[0]);
    return child;
  }

  ChildProcess(ChildProcess&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)),
        status_(other.status_),
        stdin_(std::move(other.stdin_)),
        stdout_(std::move(other.stdout_)),
        stderr_(std::move(other.stderr_)),
        buffer_(std::move(other.buffer_)),
        output_ended_(other.output_ended_) {}
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }

  pid_t pid() const { return pid_; }

  /// The next line of standard output (without the newline), or nullopt at end of output or after
  /// `timeout` (output_ended() tells which).
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (auto end = buffer_.find('\n'); end != std::string::npos) {
        auto line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return std::nullopt;
      }
      auto read = read_some(stdout_.get(), buffer_, static_cast<int>(left.count()));
      if (read != Read::data) {
        output_ended_ = output_ended_ || read == Read::end;
        return std::nullopt;
      }
    }
  }

  /// Whether standard output has ended: every process that had it closed it (seen by read_line).
  bool output_ended() const { return output_ended_; }

  /// All of standard error (call after the process ended or closed it).
  std::string read_stderr() {
    std::string text;
    while (read_some(stderr_.get(), text, 20000) == Read::data) {
    }
    return text;
  }

  void close_stdin() { stdin_.reset(); }
  void signal(int number) const { ::kill(pid_, number); }

  /// Waits for the process and returns its wait status.
  int wait() {
    if (!status_) {
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      status_ = status;
    }
    return *status_;
  }

  /// Whether the process has ended (then reaped, for wait()), without waiting: for wait_until().
  bool exited() {
    if (!status_) {
      int status = 0;
      pid_t reaped = 0;
      while ((reaped = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
      }
      if (reaped == pid_) {
        status_ = status;
      }
    }
    return status_.has_value();
  }

  /// The exit code, or 128 + signal when killed.
  int exit_code() {
    int status = wait();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  ChildProcess() = default;

  static std::vector<char*> pointers(const std::vector<std::string>& strings) {
    std::vector<char*> result;
    result.reserve(strings.size() + 1);
    for (const auto& text : strings) {
      result.push_back(const_cast<char*>(text.c_str()));  // execve does not write them
    }
    result.push_back(nullptr);
    return result;
  }

  enum class Read { data, end, timeout };

  // What is there to read on `fd` within `timeout_ms`, appended to `into`. A read error counts as
  // the end.
  static Read read_some(int fd, std::string& into, int timeout_ms) {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, timeout_ms) <= 0) {
      return Read::timeout;
    }
    char chunk[4096];
    auto count = ::read(fd, chunk, sizeof chunk);
    if (count <= 0) {
      return Read::end;
    }
    into.append(chunk, static_cast<std::size_t>(count));
    return Read::data;
  }

  pid_t pid_ = -1;
  std::optional<int> status_;
  portpool::UniqueFd stdin_;
  portpool::UniqueFd stdout_;
  portpool::UniqueFd stderr_;
  std::string buffer_;
  bool output_ended_ = false;
};

}  // namespace portpool::test
