#pragma once

// Test-only: named steps of acquiring and releasing a port, where the fault-injection tests
// (tests/test_fault_injection.cpp, through portpool_test_holder) stop a holder process to kill it
// there. Compiled in only where a test program asks for it (PORTPOOL_TEST_HOOKS, defined for
// the test programs); everywhere else a step is an empty inline function. Likewise the switch that
// turns the shield's inotify off, so that a test exercises its polling alone.
//
// Steps, in order: "lock-file-opened" (created/opened, not locked), "locked" (locked, identity
// checked, not recorded), "recorded" (record written into the lock file, not probed), "probed"
// (usable, about to be handed out), then on release "releasing" (record retired, file about to be
// closed).

#include <atomic>
#include <string_view>

namespace portpool::detail {

#ifdef PORTPOOL_TEST_HOOKS
inline void (*step_hook)(std::string_view step) = nullptr;

/// Whether new shield subscriptions use inotify (a test turns it off to exercise polling alone).
inline std::atomic<bool> inotify_switch{true};

inline bool inotify_enabled() { return inotify_switch.load(); }

inline void reached_step(std::string_view step) {
  if (step_hook != nullptr) {
    step_hook(step);
  }
}
#else
inline void reached_step(std::string_view /*step*/) noexcept {}

inline bool inotify_enabled() noexcept { return true; }
#endif

}  // namespace portpool::detail
