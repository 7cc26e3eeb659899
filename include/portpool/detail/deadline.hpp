#pragma once

// Deadlines of the waiting acquisitions. A wait reads its deadline's own clock again after every
// wake (a system_clock deadline moves with the wall clock), through a TimeLeft: the clock is a
// template parameter of the public call only, and the wait itself is one function for every clock.

#include <chrono>
#include <functional>

namespace portpool::detail {

// How long until the deadline (zero once it has passed), at most a day per wait.
using TimeLeft = std::function<std::chrono::nanoseconds()>;

// The deadline `timeout` from now; a timeout of a century or more waits a century.
template <class Rep, class Period>
std::chrono::steady_clock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) {
  constexpr std::chrono::hours century(24 * 365 * 100);
  const auto now = std::chrono::steady_clock::now();
  if (timeout <= std::chrono::duration<Rep, Period>::zero()) {
    return now;
  }
  if (std::chrono::duration<double>(timeout) >= century) {
    return now + century;
  }
  return now + std::chrono::ceil<std::chrono::steady_clock::duration>(timeout);
}

template <class Clock, class Duration>
TimeLeft time_left_until(std::chrono::time_point<Clock, Duration> deadline) {
  return [deadline] {
    constexpr std::chrono::hours longest_wait(24);
    auto left = deadline - Clock::now();
    if (left <= decltype(left)::zero()) {
      return std::chrono::nanoseconds::zero();
    }
    if (std::chrono::duration<double>(left) >= longest_wait) {
      return std::chrono::nanoseconds(longest_wait);
    }
    return std::chrono::ceil<std::chrono::nanoseconds>(left);
  };
}

}  // namespace portpool::detail
