#pragma once

// Staying alive while CMD runs: forwarding signals to its process group, once, and waiting for
// its keeper to end.

#include "child_launch.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <signal.h>
#include <sys/signalfd.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace portpool::cli {

/// Blocks the signals it forwards (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) and SIGCHLD
/// from its construction on, and reads them from a signalfd: none is lost between fork and wait.
/// Resets an inherited ignored SIGCHLD (which would let the kernel reap children unseen) and makes
/// this process a child subreaper. Construct it before any thread starts.
class Supervisor {
 public:
  /// @throws std::system_error when the signalfd cannot be created.
  explicit Supervisor(std::chrono::milliseconds kill_grace);
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  Supervisor(Supervisor&&) = delete;
  Supervisor& operator=(Supervisor&&) = delete;
  ~Supervisor();

  boost::asio::io_context& context() noexcept { return context_; }

  /// Runs the context until the keeper of `launched` ends, forwarding signals to CMD's process
  /// group (a forking service's through its keeper, which knows what the service is now); returns
  /// the keeper's exit status: CMD's, or 128 + the signal that killed it (see keeper.hpp for a
  /// forking service).
  /// @throws CommandError (71) when the signals or the keeper's status cannot be read, once CMD's
  /// tree has been ended.
  int supervise(const LaunchedCommand& launched);

  /// Asks CMD's process group to stop (SIGTERM).
  void terminate_child() const;

  /// Asks CMD's process group to stop (SIGTERM) and, when a copy still runs `grace` later, kills
  /// every process of the copies' trees (SIGKILL) but the keepers, which then exit with CMD's
  /// status: the tree is gone within `grace`, whatever CMD does with SIGTERM. The keepers are told
  /// first (end_by_signal), so that they keep to the same time should `portpool` die meanwhile.
  void end_child_within(std::chrono::milliseconds grace);

  /// Whether `portpool` was asked to stop (SIGINT, SIGTERM, SIGHUP or SIGQUIT; SIGHUP not for a
  /// forking service, which takes it for a reload): CMD is not restarted.
  bool stop_requested() const noexcept { return stop_requested_; }

  /// Waits `delay` between two runs of CMD; false when asked to stop meanwhile.
  bool pause(std::chrono::milliseconds delay);

  /// Whether a copy of CMD runs (false between two runs).
  bool running() const noexcept { return running_.keeper > 0; }

  /// From now on SIGHUP is not forwarded: `reload` runs instead, on the context.
  void on_reload(std::function<void()> reload) { reload_ = std::move(reload); }

  /// A second copy of CMD, started by a reload, runs beside the current one. Signals are
  /// forwarded to both. If its keeper ends first, `on_exit` gets its exit code.
  void add_candidate(const LaunchedCommand& candidate, std::function<void(int)> on_exit);

  /// The candidate replaces the current copy, which is asked to stop (SIGTERM) and is no
  /// longer waited for: supervise() now returns when the candidate ends.
  void promote_candidate();

  /// The candidate is asked to stop (SIGTERM) and is no longer waited for.
  void drop_candidate();

  /// Asks every copy that was replaced or dropped and is still running to stop, and waits for
  /// them (their keepers end their trees within the kill grace).
  void end_retired();

 private:
  void wait_for_signal();
  void handle(const signalfd_siginfo& signal);
  void reap();
  void fail(std::string message);
  int keeper_result();

  std::chrono::milliseconds kill_grace_;
  sigset_t original_mask_{};
  boost::asio::io_context context_;
  boost::asio::posix::stream_descriptor signals_;
  signalfd_siginfo received_{};
  boost::asio::steady_timer kill_timer_;
  void retire(const LaunchedCommand& copy);
  void forward(int number) const;
  void kill_trees() const;

  LaunchedCommand running_;
  std::optional<LaunchedCommand> candidate_;
  std::function<void(int)> candidate_exit_;
  std::vector<LaunchedCommand> retired_;
  std::function<void()> reload_;
  std::optional<int> keeper_status_;
  std::optional<std::string> failure_;
  unsigned runs_ = 0;  ///< supervise() calls so far
  bool stop_requested_ = false;
  bool reading_ = false;
};

}  // namespace portpool::cli
