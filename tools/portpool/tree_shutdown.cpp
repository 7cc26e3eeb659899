#include "tree_shutdown.hpp"

#include <portpool/process_tree.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <cstdio>
#include <thread>
#include <vector>

namespace portpool::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds poll_interval{20};
// After SIGKILL only the kernel is left to act: a process still there this long after it is in
// uninterruptible sleep (a hung network filesystem), which is said once while waiting on.
constexpr std::chrono::seconds kill_notice{10};

// Reaps every ended child; true while this process still has one. This process is a subreaper, so
// a process of the tree whose parent died became its child: no child left means no descendant
// left. Unlike a walk of /proc, which a process forked or reparented meanwhile escapes, the
// kernel's answer is exact.
bool has_children() {
  while (true) {
    int status = 0;
    pid_t reaped = ::waitpid(-1, &status, WNOHANG);
    if (reaped < 0 && errno == EINTR) {
      continue;
    }
    if (reaped <= 0) {
      return reaped == 0;  // -1 with ECHILD: none left
    }
  }
}

// SIGTERM once: to the group, then to each descendant outside it (a daemon's own session).
void terminate_tree(pid_t group) {
  if (group > 0) {
    ::kill(-group, SIGTERM);
  }
  for (auto process : descendants_of(::getpid())) {
    if (group <= 0 || ::getpgid(process) != group) {
      ::kill(process, SIGTERM);
    }
  }
}

// Waits until no child is left; false when `deadline` passed first.
bool wait_for_tree(Clock::time_point deadline) {
  while (has_children()) {
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(poll_interval);
  }
  return true;
}

// SIGKILL to every process of the tree, round after round, until no child is left: a process
// forked after one round looked for the tree's processes (or missed by a walk of /proc that it
// tore) is found by the next.
void kill_tree(pid_t group) {
  if (group > 0) {
    ::kill(-group, SIGKILL);
  }
  auto notice = Clock::now() + kill_notice;
  bool noticed = false;
  while (has_children()) {
    auto left = descendants_of(::getpid());
    for (auto process : left) {
      ::kill(process, SIGKILL);
    }
    if (!noticed && Clock::now() >= notice) {
      noticed = true;
      std::fputs(fmt::format("portpool: processes of CMD's tree are still there {} s after SIGKILL (pids {}), "
                             "probably in uninterruptible sleep; waiting for them, the port stays held\n",
                             kill_notice.count(), fmt::join(left, ", "))
                     .c_str(),
                 stderr);
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

}  // namespace

void end_process_tree(pid_t group, std::chrono::milliseconds grace) {
  if (!has_children()) {
    return;
  }
  terminate_tree(group);
  if (!wait_for_tree(Clock::now() + grace)) {
    kill_tree(group);
  }
}

}  // namespace portpool::cli
