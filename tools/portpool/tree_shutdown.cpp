#include "tree_shutdown.hpp"

#include <portpool/process_tree.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <thread>
#include <vector>

namespace portpool::cli {
namespace {

constexpr std::chrono::milliseconds poll_interval{20};
// After SIGKILL only the kernel is left to act; this bound only guards against a process stuck
// in uninterruptible sleep (a hung NFS mount), which no signal can end.
constexpr std::chrono::seconds kill_bound{10};

// Reaps every ended child; a descendant that is not our child is its own parent's to reap.
void reap_children() {
  int status = 0;
  pid_t reaped = 0;
  while ((reaped = ::waitpid(-1, &status, WNOHANG)) > 0 || (reaped < 0 && errno == EINTR)) {
  }
}

void signal_all(pid_t group, const std::vector<pid_t>& processes, int number) {
  if (group > 0) {
    ::kill(-group, number);
  }
  for (auto process : processes) {
    ::kill(process, number);
  }
}

// Waits until no descendant is left, reaping orphans; false when `limit` passed first.
bool wait_for_tree(std::chrono::steady_clock::duration limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    reap_children();
    if (descendants_of(::getpid()).empty()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(poll_interval);
  }
}

}  // namespace

void end_process_tree(pid_t group, std::chrono::milliseconds grace) {
  reap_children();
  auto descendants = descendants_of(::getpid());
  if (descendants.empty() && (group <= 0 || ::kill(-group, 0) != 0)) {
    return;
  }
  signal_all(group, descendants, SIGTERM);
  if (wait_for_tree(grace)) {
    return;
  }
  signal_all(group, descendants_of(::getpid()), SIGKILL);
  wait_for_tree(kill_bound);
}

}  // namespace portpool::cli
