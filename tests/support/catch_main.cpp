// The main() of every Catch2 test program, and the listener behind PORTPOOL_SKIP (skip.hpp).
// Compiled as C++14 (the portpool_test_main target asks for no standard).

#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include "skip.hpp"

#include <iostream>
#include <mutex>
#include <string>

namespace {

// The reasons the running test case gave for skipping (in any of its sections or generated
// values), in order, without repeats.
struct Skips {
  std::mutex mutex;
  std::string reasons;
};

Skips& skips() {
  static Skips instance;
  return instance;
}

// Writes the one "SKIPPED: " line that ctest looks for once the test case has ended, and only if
// no check of it failed: a skip must not turn a failed test into a skipped one.
class SkipReporter : public Catch::TestEventListenerBase {
 public:
  using TestEventListenerBase::TestEventListenerBase;

  void testCaseStarting(const Catch::TestCaseInfo& info) override {
    TestEventListenerBase::testCaseStarting(info);
    std::lock_guard<std::mutex> lock(skips().mutex);
    skips().reasons.clear();
  }

  void testCaseEnded(const Catch::TestCaseStats& stats) override {
    {
      std::lock_guard<std::mutex> lock(skips().mutex);
      if (!skips().reasons.empty()) {
        // The totals of this test case: every section and generated value of it.
        if (stats.totals.assertions.failed == 0 && !stats.aborting) {
          std::cout << "SKIPPED: " << skips().reasons << std::endl;
        } else {
          std::cout << "(not reported as skipped, since a check failed: " << skips().reasons << ")" << std::endl;
        }
      }
    }
    TestEventListenerBase::testCaseEnded(stats);
  }
};

}  // namespace

CATCH_REGISTER_LISTENER(SkipReporter)

void portpool::test::record_skip(const std::string& reason) {
  std::lock_guard<std::mutex> lock(skips().mutex);
  auto& reasons = skips().reasons;
  if (reasons.find(reason) == std::string::npos) {
    reasons += (reasons.empty() ? "" : "; ") + reason;
  }
}
