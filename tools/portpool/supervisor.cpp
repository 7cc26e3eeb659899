#include "supervisor.hpp"
#include "resource_limits.hpp"

#include "exit_codes.hpp"
#include "keeper.hpp"
#include "tree_shutdown.hpp"

#include <portpool/process_tree.hpp>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <system_error>

namespace portpool::cli {
namespace {

constexpr std::array<int, 6> forwarded_signals{SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
constexpr std::array<int, 4> stop_signals{SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// A forking service's keeper forwards the signal itself: after CMD's start-up, CMD's group is no
// longer the service.
void signal_copy(const LaunchedCommand& copy, int number) {
  if (copy.forking) {
    sigval value{};
    value.sival_int = number;
    ::sigqueue(copy.keeper, forwarded_signal(), value);
  } else {
    ::kill(-copy.command, number);
  }
}

sigset_t supervised_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int number : forwarded_signals) {
    sigaddset(&set, number);
  }
  sigaddset(&set, SIGCHLD);
  return set;
}

int block_into_signalfd(sigset_t& original_mask) {
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;  // also clears an inherited SA_NOCLDWAIT
  ::sigaction(SIGCHLD, &default_action, nullptr);
  auto set = supervised_signals();
  if (int error = ::pthread_sigmask(SIG_BLOCK, &set, &original_mask); error != 0) {
    throw std::system_error(error, std::system_category(), "pthread_sigmask");
  }
  int descriptor = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (descriptor < 0) {
    throw std::system_error(errno, std::system_category(), "signalfd");
  }
  // Signals left pending by whoever started portpool with them blocked were meant for that
  // process, not for CMD, which does not exist yet.
  signalfd_siginfo pending{};
  while (::read(descriptor, &pending, sizeof pending) == static_cast<ssize_t>(sizeof pending)) {
  }
  // Orphans of CMD's tree come here if the keeper is killed, so that they can still be ended.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    int error = errno;
    ::close(descriptor);
    throw std::system_error(error, std::system_category(), "prctl(PR_SET_CHILD_SUBREAPER)");
  }
  return descriptor;
}

}  // namespace

Supervisor::Supervisor(std::chrono::milliseconds kill_grace)
    : kill_grace_(kill_grace), signals_(context_, block_into_signalfd(original_mask_)), kill_timer_(context_) {}

Supervisor::~Supervisor() {
  boost::system::error_code ignored;
  signals_.close(ignored);
  ::pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
}

int Supervisor::supervise(const LaunchedCommand& launched) {
  ++runs_;
  running_ = launched;
  keeper_status_.reset();
  failure_.reset();
  reap();
  if (!keeper_status_ && !failure_) {
    context_.restart();
    wait_for_signal();
    context_.run();
  }
  auto result = keeper_result();
  running_ = {};
  return result;
}

bool Supervisor::pause(std::chrono::milliseconds delay) {
  boost::asio::steady_timer timer(context_, delay);
  timer.async_wait([this](const boost::system::error_code&) { context_.stop(); });
  context_.restart();
  wait_for_signal();
  context_.run();
  if (failure_) {
    throw CommandError(*failure_, exit_code::system_failure);
  }
  return !stop_requested_;
}

void Supervisor::terminate_child() const { forward(SIGTERM); }

void Supervisor::end_child_within(std::chrono::milliseconds grace) {
  for (pid_t keeper : {running_.keeper, candidate_ ? candidate_->keeper : -1}) {
    if (keeper > 0) {
      ::sigqueue(keeper, end_by_signal, sigval{});
    }
  }
  terminate_child();
  kill_timer_.expires_after(grace);
  // A run that ended before the grace is not followed by a SIGKILL for the next one (a restart).
  kill_timer_.async_wait([this, run = runs_](const boost::system::error_code& error) {
    if (!error && run == runs_) {
      kill_trees();
    }
  });
}

void Supervisor::kill_trees() const {
  forward(SIGKILL);
  for (auto process : descendants_of(::getpid())) {
    bool keeper = process == running_.keeper || (candidate_ && process == candidate_->keeper) ||
                  std::any_of(retired_.begin(), retired_.end(),
                              [process](const LaunchedCommand& copy) { return copy.keeper == process; });
    if (!keeper) {
      ::kill(process, SIGKILL);
    }
  }
}

void Supervisor::forward(int number) const {
  if (running_.command > 0) {
    signal_copy(running_, number);
  }
  if (candidate_) {
    signal_copy(*candidate_, number);
  }
}

void Supervisor::add_candidate(const LaunchedCommand& candidate, std::function<void(int)> on_exit) {
  candidate_ = candidate;
  candidate_exit_ = std::move(on_exit);
}

void Supervisor::promote_candidate() {
  if (!candidate_) {
    return;
  }
  retire(running_);
  running_ = *candidate_;
  candidate_.reset();
}

void Supervisor::drop_candidate() {
  if (!candidate_) {
    return;
  }
  retire(*candidate_);
  candidate_.reset();
}

void Supervisor::retire(const LaunchedCommand& copy) {
  signal_copy(copy, SIGTERM);
  retired_.push_back(copy);
}

void Supervisor::end_retired() {
  drop_candidate();
  for (const auto& copy : retired_) {
    signal_copy(copy, SIGTERM);
    while (::waitpid(copy.keeper, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  retired_.clear();
}

// One read at a time: a read still pending when the context stopped completes in its next run.
void Supervisor::wait_for_signal() {
  if (reading_) {
    return;
  }
  reading_ = true;
  signals_.async_read_some(boost::asio::buffer(&received_, sizeof received_),
                           [this](const boost::system::error_code& error, std::size_t size) {
                             reading_ = false;
                             if (error) {
                               fail(fmt::format("cannot read the signals it forwards to CMD: {}", error.message()));
                               return;
                             }
                             if (size == sizeof received_) {
                               handle(received_);
                             }
                             if (!failure_ && !context_.stopped()) {
                               wait_for_signal();
                             }
                           });
}

// CMD is in a process group of its own, which neither a signal to `portpool`'s group nor the
// terminal (when CMD has it) reaches twice: each signal portpool gets is sent on once.
void Supervisor::handle(const signalfd_siginfo& signal) {
  auto number = static_cast<int>(signal.ssi_signo);
  if (number == SIGCHLD) {
    reap();
    return;
  }
  if (number == SIGHUP && reload_) {
    reload_();
    return;
  }
  // A daemon that forked takes SIGHUP for "reload" (nginx, haproxy): forwarded, it stops nothing.
  const bool reload = number == SIGHUP && running_.forking;
  if (!reload && std::find(stop_signals.begin(), stop_signals.end(), number) != stop_signals.end()) {
    stop_requested_ = true;
    if (running_.command <= 0) {
      context_.stop();  // between two runs: there is nothing to wait for
    }
  }
  forward(number);
}

void Supervisor::reap() {
  while (true) {
    int status = 0;
    pid_t reaped = ::waitpid(-1, &status, WNOHANG);
    if (reaped < 0 && errno == EINTR) {
      continue;
    }
    if (reaped < 0 && running_.keeper <= 0) {
      return;  // between two runs, with no orphan left
    }
    if (reaped < 0) {
      if (errno == ECHILD) {
        fail("the keeper of CMD's process tree is gone and its exit status with it");
      } else {
        fail(fmt::format("cannot wait for CMD: {}", errno_text(errno)));
      }
      return;
    }
    if (reaped == 0) {
      return;
    }
    if (reaped == running_.keeper) {
      keeper_status_ = status;
      context_.stop();
      return;
    }
    if (candidate_ && reaped == candidate_->keeper) {
      candidate_.reset();
      if (candidate_exit_) {
        candidate_exit_(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      }
      continue;
    }
    retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                  [reaped](const LaunchedCommand& copy) { return copy.keeper == reaped; }),
                   retired_.end());
    // Otherwise an orphan of the tree, after its keeper was killed.
  }
}

void Supervisor::fail(std::string message) {
  if (!failure_) {
    failure_ = std::move(message);
  }
  context_.stop();
}

// The keeper exits with CMD's status once the tree is gone. Anything else leaves the tree to us.
int Supervisor::keeper_result() {
  if (keeper_status_ && WIFEXITED(*keeper_status_)) {
    return WEXITSTATUS(*keeper_status_);
  }
  if (!keeper_status_) {
    terminate_child();
    int status = 0;
    while (::waitpid(running_.keeper, &status, 0) < 0 && errno == EINTR) {
    }
  }
  end_process_tree(running_.forking ? 0 : running_.command, kill_grace_);
  if (!failure_) {
    failure_ = fmt::format("the keeper of CMD's process tree (pid {}) was killed by signal {}", running_.keeper,
                           WTERMSIG(*keeper_status_));
  }
  throw CommandError(fmt::format("{}; CMD's processes were stopped", *failure_), exit_code::system_failure);
}

}  // namespace portpool::cli
