#pragma once

// Staying alive while CMD runs: forwarding signals to it and waiting for it to end.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/types.h>

namespace portpool::cli {

/// Blocks the signals it forwards (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) and SIGCHLD
/// from its construction on, and reads them from a signalfd: none is lost between fork and wait,
/// and none runs a handler in the child before exec. Construct it before any thread starts.
class Supervisor {
 public:
  /// @throws std::system_error when the signalfd cannot be created.
  Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  Supervisor(Supervisor&&) = delete;
  Supervisor& operator=(Supervisor&&) = delete;
  ~Supervisor();

  /// The signal mask this process had before: the one CMD must start with.
  const sigset_t& original_mask() const noexcept { return original_mask_; }

  boost::asio::io_context& context() noexcept { return context_; }

  /// Runs the context until `child` ends, forwarding signals to it; returns its exit status, or
  /// 128 + the signal that killed it.
  int supervise(pid_t child);

  /// Asks the child to stop (SIGTERM).
  void terminate_child() const;

 private:
  void wait_for_signal();
  void handle(const signalfd_siginfo& signal);
  bool reap();

  sigset_t original_mask_{};
  boost::asio::io_context context_;
  boost::asio::posix::stream_descriptor signals_;
  signalfd_siginfo received_{};
  pid_t child_ = -1;
  int exit_status_ = 0;
};

}  // namespace portpool::cli
