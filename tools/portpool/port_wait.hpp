#pragma once

// `--wait DURATION` of `run` and `lease`: when SERVICE's pool is exhausted, wait for one of its
// ports to be released (the library's acquire_for), until DURATION has passed. The commands block
// their ending signals (to read them from a signalfd later), so the wait is cut into slices of a
// second, and what ends the command (a signal; for `lease`, also the end of its input) ends the wait
// between two slices.

#include "exit_codes.hpp"

#include <portpool/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

namespace portpool::cli {

/// An ending signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) pending for this process, taken off the
/// pending set (so that unblocking it later does not kill the process), or 0.
int take_pending_ending_signal();

/// `take_for(timeout)` (an acquire_for of the pool), waiting `wait` in all (`take_for(0ms)` when
/// `wait` is zero), in slices of a second; between two slices, nullopt when `interrupted()`.
/// @throws what `take_for` throws at the end of the wait.
template <class TakeFor, class Interrupted>
auto take_waiting(std::chrono::milliseconds wait, TakeFor take_for, Interrupted interrupted)
    -> std::optional<decltype(take_for(wait))> {
  constexpr std::chrono::milliseconds slice(1000);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= slice) {
      return take_for(std::max(left, std::chrono::milliseconds::zero()));
    }
    try {
      return take_for(slice);
    } catch (const PoolExhausted&) {
      if (interrupted()) {
        return std::nullopt;
      }
    }
  }
}

/// take_waiting() for `run`, which an ending signal interrupts.
/// @throws what `take_for` throws at the end of the wait; CommandError with exit code 128 + the
/// signal when an ending signal arrives during the wait.
template <class TakeFor>
auto take_waiting_unless_stopped(std::chrono::milliseconds wait, const std::string& service, TakeFor take_for)
    -> decltype(take_for(wait)) {
  int signal = 0;
  auto taken = take_waiting(wait, take_for, [&] { return (signal = take_pending_ending_signal()) != 0; });
  if (!taken) {
    throw CommandError(
        fmt::format("stopped by signal {} while waiting for a port of '{}'; nothing was taken", signal, service),
        128 + signal);
  }
  return std::move(*taken);
}

}  // namespace portpool::cli
