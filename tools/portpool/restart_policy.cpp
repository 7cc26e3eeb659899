#include "restart_policy.hpp"

#include "exit_codes.hpp"

#include <signal.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace portpool::cli {
namespace {

bool clean_exit(int exit_status) {
  constexpr std::array<int, 4> clean_signals{SIGHUP, SIGINT, SIGTERM, SIGPIPE};
  return exit_status == 0 || std::any_of(clean_signals.begin(), clean_signals.end(),
                                         [exit_status](int number) { return exit_status == 128 + number; });
}

}  // namespace

bool RestartPolicy::wants(int exit_status, int restarts) const {
  if (!within_limit(restarts)) {
    return false;
  }
  switch (when) {
    case When::never:
      return false;
    case When::on_failure:
      return !clean_exit(exit_status);
    case When::always:
      return true;
  }
  return false;
}

std::string RestartPolicy::limit_text() const {
  return max_restarts < 0 ? std::string("no limit") : std::to_string(max_restarts);
}

RestartPolicy restart_policy(const std::string& when, std::chrono::milliseconds delay, int max_restarts) {
  if (max_restarts < -1) {
    throw UsageError(fmt::format("--max-restarts {} is negative: give 0 or more", max_restarts));
  }
  RestartPolicy policy;
  policy.when = when == "always"       ? RestartPolicy::When::always
                : when == "on-failure" ? RestartPolicy::When::on_failure
                                       : RestartPolicy::When::never;
  policy.delay = delay;
  policy.max_restarts = max_restarts;
  return policy;
}

}  // namespace portpool::cli
