#pragma once

// PORTPOOL_SKIP(reason): the one way a test case says that it did not run its main part, for a
// reason outside the project's control (no root, no IPv6 or ::1, no 127.0.0.2, no permission to
// mount a tmpfs, a descriptor limit too low, AddressSanitizer and fork()).
//
//   if (::geteuid() != 0) {
//     PORTPOOL_SKIP("needs root to give a file to another user");
//   }
//
// It records the reason as a Catch2 warning and returns from the enclosing function (a TEST_CASE's
// body: a helper cannot skip for its caller, so let it return a bool and skip at the call site).
// When the test case ends, one line "SKIPPED: <reason>" is written to standard output. ctest
// reports every test whose output has "SKIPPED: " as skipped (SKIP_REGULAR_EXPRESSION, set on every
// discovered test), whatever its exit code: that spelling is the contract, and a script prints the
// same line and exits 77.
//
// A skip never hides a failure: the line is written by a listener in catch_main.cpp (which every
// test program links) only when no check of the test case failed, before or after the skip (in
// another SECTION or GENERATE value). Still, skip first, before the test case checks anything, and
// outside any SECTION or GENERATE: a test case that skipped is reported as skipped as a whole.
// Several skips of one test case give one line, with their reasons.
//
// C++14: catch_main.cpp, which includes it, is compiled without C++17.

#include <catch2/catch.hpp>

#include <sstream>
#include <string>

namespace portpool {  // NOLINT(modernize-concat-nested-namespaces): C++14, see above
namespace test {

/// Records that the running test case skips its main part for `reason` (one line): its
/// "SKIPPED: <reason>" line is written when it ends without a failed check. Use PORTPOOL_SKIP.
void record_skip(const std::string& reason);

/// `reason` on one line: line breaks become spaces.
inline std::string skip_reason_line(std::string reason) {
  for (auto& character : reason) {
    if (character == '\n' || character == '\r') {
      character = ' ';
    }
  }
  return reason;
}

}  // namespace test
}  // namespace portpool

// `reason` is a stream expression, as for WARN: PORTPOOL_SKIP("no " << address << " here").
#define PORTPOOL_SKIP(reason)                                                                         \
  do {                                                                                                \
    std::ostringstream portpool_skip_stream;                                                          \
    portpool_skip_stream << reason; /* NOLINT(bugprone-macro-parentheses): a stream expression */     \
    const auto portpool_skip_reason = ::portpool::test::skip_reason_line(portpool_skip_stream.str()); \
    ::portpool::test::record_skip(portpool_skip_reason);                                              \
    WARN("skipped: " << portpool_skip_reason);                                                        \
    return;                                                                                           \
  } while (false)
