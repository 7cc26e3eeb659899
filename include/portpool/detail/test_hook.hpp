#pragma once

// Test-only: named steps of acquiring and releasing a port, where the fault-injection tests
// (tests/test_fault_injection.cpp, through portpool_test_holder) stop a holder process to kill it
// there. Compiled in only where a test program asks for it (PORTPOOL_TEST_HOOKS, defined for
// portpool_test_holder alone); everywhere else a step is an empty inline function.
//
// Steps, in order: "lock-file-opened" (created/opened, not locked), "locked" (locked, identity
// checked, not recorded), "recorded" (record written into the lock file, not probed), "probed"
// (usable, about to be handed out), then on release "releasing" (record retired, file about to be
// closed).

#include <string_view>

namespace portpool::detail {

#ifdef PORTPOOL_TEST_HOOKS
inline void (*step_hook)(std::string_view step) = nullptr;

inline void reached_step(std::string_view step) {
  if (step_hook != nullptr) {
    step_hook(step);
  }
}
#else
inline void reached_step(std::string_view /*step*/) noexcept {}
#endif

}  // namespace portpool::detail
