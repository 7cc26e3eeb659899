#pragma once

// A forked child that takes something (a port, a whole pool, a listening socket), tells the parent
// what it got, and keeps it until the parent lets it go: a hold in another process without exec'ing
// a program (holder.hpp starts the exec'd portpool_test_holder instead). Shared by the tests and the
// benchmarks.

#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>

namespace portpool::test {

/// A forked child holding what its body took, from the report to release() (or destruction).
class HoldingChild {
 public:
  /// What the child's body is given: it takes what it should, then calls hold().
  class Hold {
   public:
    /// Tells the parent `report` and returns only when the parent lets the child go, so that what
    /// the body took stays held until then.
    void hold(const std::string& report) {
      static_cast<void>(::write(report_, report.data(), report.size()));
      ::close(std::exchange(report_, -1));
      char ignored = 0;
      while (::read(release_, &ignored, 1) > 0) {  // 0 at end of file: the parent let go
      }
    }

   private:
    friend class HoldingChild;
    Hold(int report, int release) : report_(report), release_(release) {}
    int report_;
    int release_;
  };

  /// Forks a child that runs `body(Hold&)` and waits for its report. A body that ends without
  /// calling hold() (or throws: the message goes to stderr) reports an empty string.
  /// @throws std::runtime_error when the child cannot be started or does not report in time.
  template <class Body>
  explicit HoldingChild(Body body) {
    int report_pipe[2];
    int release_pipe[2];
    if (::pipe2(report_pipe, O_CLOEXEC) != 0 || ::pipe2(release_pipe, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    pid_ = ::fork();
    if (pid_ < 0) {
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      ::close(report_pipe[0]);
      ::close(release_pipe[1]);
      run_child(body, Hold(report_pipe[1], release_pipe[0]));
    }
    ::close(report_pipe[1]);
    ::close(release_pipe[0]);
    release_.reset(release_pipe[1]);
    portpool::UniqueFd report_end(report_pipe[0]);
    if (!read_to_end(report_end.get(), report_)) {
      ::kill(pid_, SIGKILL);
      release();
      throw std::runtime_error("the holding child did not report within 2 minutes");
    }
  }
  HoldingChild(const HoldingChild&) = delete;
  HoldingChild& operator=(const HoldingChild&) = delete;
  HoldingChild(HoldingChild&&) = delete;
  HoldingChild& operator=(HoldingChild&&) = delete;
  ~HoldingChild() { release(); }

  /// What the body reported: empty when it failed.
  const std::string& report() const { return report_; }

  pid_t pid() const { return pid_; }

  /// Lets the child go and waits until it has exited (what it held is free then).
  void release() {
    release_.reset();
    if (pid_ > 0 && !exited_) {
      while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
      exited_ = true;
    }
  }

 private:
  template <class Body>
  [[noreturn]] static void run_child(Body& body, Hold hold) {
    try {
      body(hold);
    } catch (const std::exception& error) {
      std::cerr << "the holding child failed: " << error.what() << '\n';
    }
    std::cerr.flush();
    std::_Exit(0);  // the parent's objects, copied by fork(), are not the child's to destroy
  }

  // Reads until the child closes its end (it reported, or ended); false when that takes longer
  // than any take should, even on a loaded machine.
  static bool read_to_end(int descriptor, std::string& text) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    char chunk[256];
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd readable{descriptor, POLLIN, 0};
      int ready = left.count() > 0 ? ::poll(&readable, 1, static_cast<int>(left.count())) : 0;
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready == 0) {
        return false;
      }
      auto count = ::read(descriptor, chunk, sizeof chunk);
      if (count > 0) {
        text.append(chunk, static_cast<std::size_t>(count));
      } else if (count == 0 || errno != EINTR) {
        return true;
      }
    }
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  portpool::UniqueFd release_;
  std::string report_;
};

}  // namespace portpool::test
