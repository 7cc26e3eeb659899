#pragma once

// When `run --restart` starts CMD again: systemd's Restart= rules, for the cases that apply.

#include <chrono>
#include <string>

namespace portpool::cli {

struct RestartPolicy {
  enum class When { never, on_failure, always };
  When when = When::never;
  std::chrono::milliseconds delay{100};
  int max_restarts = -1;  ///< -1: no limit

  /// Whether CMD, which ended with `exit_status` (128 + signal when killed) after `restarts`
  /// restarts, is started again. on-failure: unless it exited 0 or was ended by SIGHUP, SIGINT,
  /// SIGTERM or SIGPIPE (systemd's "clean" exits); always: whatever the status.
  bool wants(int exit_status, int restarts) const;

  /// Whether --max-restarts leaves room for another restart after `restarts` (a liveness
  /// restart, which is not the policy's to decide, counts against the limit too).
  bool within_limit(int restarts) const { return max_restarts < 0 || restarts < max_restarts; }

  /// "5" or "no limit".
  std::string limit_text() const;
};

/// @throws UsageError when max_restarts is negative (other than the -1 of "not given").
RestartPolicy restart_policy(const std::string& when, std::chrono::milliseconds delay, int max_restarts);

}  // namespace portpool::cli
