#pragma once

// What ends a `portpool lease`: end of file on standard input, the death of the parent process
// (even by SIGKILL), or SIGTERM (also SIGINT and SIGHUP, as from a terminal).

#include <portpool/unique_fd.hpp>

#include <sys/types.h>

#include <functional>

namespace portpool::cli {

class LeaseEnd {
 public:
  /// Blocks the ending signals (they are read from a signalfd) and asks the kernel to send
  /// SIGTERM when the parent dies. `expected_parent` is the pid the parent is known by (0: the
  /// parent at this moment). Construct it first, before anything is acquired.
  /// @throws std::system_error when the signalfd cannot be created or prctl fails.
  explicit LeaseEnd(pid_t expected_parent);

  /// True when the parent died before the kernel was asked to report it: the lease must not start.
  bool parent_gone() const noexcept { return parent_gone_; }

  /// Whether the lease must end now (a signal arrived, or standard input ended), without waiting.
  bool ended() const;

  /// Waits until the lease must end. `on_client`, when given, is called whenever `client_descriptor`
  /// is readable (a client of --socket-path waits).
  void wait(int client_descriptor = -1, const std::function<void()>& on_client = {}) const;

 private:
  UniqueFd signals_;
  bool parent_gone_ = false;
};

}  // namespace portpool::cli
