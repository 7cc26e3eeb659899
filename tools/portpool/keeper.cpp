#include "keeper.hpp"
#include "resource_limits.hpp"

#include "exit_codes.hpp"
#include "tree_shutdown.hpp"

#include <portpool/parse_integer.hpp>
#include <portpool/process_tree.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace portpool::cli {
namespace {

constexpr int argument_count = 7;  // keeper_command PARENT REPORT TERMINAL GRACE PROGRAM ARGV0

struct KeeperArguments {
  pid_t parent = 0;
  int report = -1;
  int terminal = -1;
  std::chrono::milliseconds grace{0};
  const char* program = nullptr;
  char** command = nullptr;
};

std::optional<long> number(const char* text) { return parse_integer<long>(text); }

// The terminal descriptor is -1 when CMD has no controlling terminal among descriptors 0 to 2.
std::optional<long> terminal_number(const char* text) {
  return std::string_view(text) == "-1" ? std::optional<long>(-1) : number(text);
}

std::optional<KeeperArguments> parse(int argc, char** argv) {
  if (argc < argument_count + 1) {
    return std::nullopt;
  }
  auto parent = number(argv[2]);
  auto report = number(argv[3]);
  auto terminal = terminal_number(argv[4]);
  auto grace = number(argv[5]);
  if (!parent || !report || !terminal || !grace) {
    return std::nullopt;
  }
  return KeeperArguments{static_cast<pid_t>(*parent),
                         static_cast<int>(*report),
                         static_cast<int>(*terminal),
                         std::chrono::milliseconds(*grace),
                         argv[6],
                         argv + argument_count};
}

void send_report(int descriptor, KeeperReport report) {
  while (::write(descriptor, &report, sizeof report) < 0 && errno == EINTR) {
  }
}

int fail(const KeeperArguments& arguments, const char* what) {
  int error = errno;
  std::fprintf(stderr, "portpool: the keeper of CMD's process tree failed: %s: %s\n", what, errno_text(error).c_str());
  send_report(arguments.report, {KeeperReport::keeper_failed, error});
  return exit_code::system_failure;
}

// Everything the keeper must not die of (the terminal's and a group's signals are for CMD, which
// `portpool` forwards them to), and the three it acts on.
sigset_t blocked_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int number :
       {SIGCHLD, SIGTERM, SIGCONT, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU, SIGPIPE}) {
    sigaddset(&set, number);
  }
  return set;
}

sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);  // the parent-death signal
  sigaddset(&set, SIGCONT);
  sigaddset(&set, end_by_signal);
  return set;
}

// In the child, which is single-threaded like the keeper: anything may run before exec.
[[noreturn]] void exec_command(const KeeperArguments& arguments, pid_t keeper, int exec_report) {
  ::setpgid(0, 0);
  if (arguments.terminal >= 0) {
    ::tcsetpgrp(arguments.terminal, ::getpid());  // SIGTTOU is still blocked
  }
  // The keeper is only ever gone before CMD when it was killed: CMD is then told to stop.
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != keeper) {
    ::_exit(exit_code::system_failure);
  }
  if (std::getenv("LISTEN_FDS") != nullptr) {  // single-threaded here
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execv(arguments.program, arguments.command);
  int error = errno;
  static_cast<void>(::write(exec_report, &error, sizeof error));
  ::_exit(exit_code::command_not_found);
}

int exit_code_of(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

class Keeper {
 public:
  Keeper(const KeeperArguments& arguments, int signals) : arguments_(arguments), signals_(signals) {}

  // CMD started: waits for it, then ends what it left. Returns CMD's exit code.
  int supervise(pid_t command) {
    command_ = command;
    while (!command_status_) {
      signalfd_siginfo signal{};
      auto count = ::read(signals_, &signal, sizeof signal);
      if (count < 0 && errno == EINTR) {
        continue;
      }
      if (count != static_cast<ssize_t>(sizeof signal)) {
        std::fprintf(stderr, "portpool: the keeper of CMD's process tree cannot read its signals: %s\n",
                     errno_text(errno).c_str());
        finish();
        return exit_code::system_failure;
      }
      if (!handle(signal)) {
        finish();  // `portpool` died: nobody reads the status
        return exit_code::system_failure;
      }
    }
    report_leftovers();
    finish();
    return exit_code_of(*command_status_);
  }

 private:
  // false when `portpool` is gone.
  bool handle(const signalfd_siginfo& signal) {
    auto number = static_cast<int>(signal.ssi_signo);
    if (number == SIGCHLD) {
      reap();
    } else if (number == SIGCONT) {
      resume_job();
    } else if (number == SIGTERM && ::getppid() != arguments_.parent) {
      return false;
    } else if (number == end_by_signal && static_cast<pid_t>(signal.ssi_pid) == arguments_.parent &&
               signal.ssi_code == SI_QUEUE && !end_by_) {
      end_by_ = std::chrono::steady_clock::now() + arguments_.grace;
    }
    return true;
  }

  void reap() {
    while (true) {
      int status = 0;
      pid_t reaped = ::waitpid(-1, &status, WNOHANG | WUNTRACED);
      if (reaped < 0 && errno == EINTR) {
        continue;
      }
      if (reaped < 0 && errno == ECHILD && !command_status_) {
        command_status_ = exit_code::system_failure << 8;  // cannot happen: SIGCHLD is not ignored here
      }
      if (reaped <= 0) {
        return;
      }
      if (reaped != command_) {
        continue;  // an orphan of the tree
      }
      if (WIFSTOPPED(status)) {
        stop_job(WSTOPSIG(status));
      } else {
        command_status_ = status;
      }
    }
  }

  // Ctrl-Z stopped CMD's group, which had the terminal: the job `portpool` belongs to stops too,
  // so that the shell sees it stopped and gets its terminal back.
  void stop_job(int number) {
    if (arguments_.terminal < 0 || (number != SIGTSTP && number != SIGTTIN && number != SIGTTOU)) {
      return;
    }
    job_stopped_ = true;
    if (::tcgetpgrp(arguments_.terminal) == command_) {
      ::tcsetpgrp(arguments_.terminal, ::getpgrp());
    }
    ::kill(-::getpgrp(), SIGSTOP);
  }

  // `fg` or `bg` continued `portpool`'s job: CMD's group continues, with the terminal for `fg`.
  void resume_job() {
    if (!job_stopped_) {
      return;
    }
    job_stopped_ = false;
    if (::tcgetpgrp(arguments_.terminal) == ::getpgrp()) {
      ::tcsetpgrp(arguments_.terminal, command_);
    }
    ::kill(-command_, SIGCONT);
  }

  // CMD exited by itself (not by a signal, which a stop request forwards) and processes it started
  // are still there (a daemon that forked, a background job): they are ended now, which a user
  // whose server daemonizes must hear about.
  void report_leftovers() const {
    if (!WIFEXITED(*command_status_)) {
      return;
    }
    auto left = descendants_of(::getpid());
    if (left.empty()) {
      return;
    }
    std::fputs(fmt::format("portpool: CMD exited with status {} and left {} process{} behind (pid {}): ending {} "
                           "(SIGTERM, then SIGKILL after {} ms). A server that daemonizes must stay in the "
                           "foreground under portpool run (nginx: -g 'daemon off;')\n",
                           exit_code_of(*command_status_), left.size(), left.size() == 1 ? "" : "es",
                           fmt::join(left, ", "), left.size() == 1 ? "it" : "them", arguments_.grace.count())
                   .c_str(),
               stderr);
  }

  void finish() {
    if (arguments_.terminal >= 0 && ::tcgetpgrp(arguments_.terminal) == command_) {
      ::tcsetpgrp(arguments_.terminal, ::getpgrp());
    }
    auto grace = arguments_.grace;
    if (end_by_) {
      grace = std::max(std::chrono::ceil<std::chrono::milliseconds>(*end_by_ - std::chrono::steady_clock::now()),
                       std::chrono::milliseconds::zero());
    }
    end_process_tree(command_, grace);
  }

  const KeeperArguments& arguments_;
  int signals_;
  pid_t command_ = -1;
  std::optional<int> command_status_;
  std::optional<std::chrono::steady_clock::time_point> end_by_;  ///< `portpool` is ending the tree by then
  bool job_stopped_ = false;
};

// CMD's pid once it executed its program; nullopt (after reporting why) when it could not.
std::optional<pid_t> start_command(const KeeperArguments& arguments) {
  int exec_report[2];
  if (::pipe2(exec_report, O_CLOEXEC) != 0) {
    fail(arguments, "pipe2");
    return std::nullopt;
  }
  UniqueFd report_read(exec_report[0]);
  UniqueFd report_write(exec_report[1]);
  const pid_t keeper = ::getpid();
  const pid_t command = ::fork();
  if (command < 0) {
    fail(arguments, "fork");
    return std::nullopt;
  }
  if (command == 0) {
    exec_command(arguments, keeper, report_write.get());
  }
  ::setpgid(command, command);  // also here: whichever runs first, the group exists before anyone signals it
  report_write.reset();
  int error = 0;
  ssize_t count = 0;
  while ((count = ::read(report_read.get(), &error, sizeof error)) < 0 && errno == EINTR) {
  }
  if (count > 0) {
    while (::waitpid(command, nullptr, 0) < 0 && errno == EINTR) {
    }
    send_report(arguments.report, {KeeperReport::exec_failed, error});
    return std::nullopt;
  }
  send_report(arguments.report, {KeeperReport::started, command});
  return command;
}

}  // namespace

int run_keeper(int argc, char** argv) {
  auto arguments = parse(argc, argv);
  if (!arguments) {
    std::fputs("portpool: keep-process-tree is started by 'portpool run' only\n", stderr);
    return exit_code::usage;
  }
  ::prctl(PR_SET_NAME, "portpool-keeper");  // not "exe", after /proc/self/exe, in ps and top
  auto blocked = blocked_signals();
  auto watched = watched_signals();
  ::sigprocmask(SIG_SETMASK, &blocked, nullptr);
  ::signal(SIGCHLD, SIG_DFL);  // an inherited SIG_IGN would make the kernel reap CMD unseen
  UniqueFd signals(::signalfd(-1, &watched, SFD_CLOEXEC));
  if (!signals) {
    return fail(*arguments, "signalfd");
  }
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    return fail(*arguments, "prctl(PR_SET_CHILD_SUBREAPER)");
  }
  ::fcntl(arguments->report, F_SETFD, FD_CLOEXEC);
  auto command = start_command(*arguments);
  if (!command) {
    return exit_code::command_not_found;
  }
  ::close(arguments->report);
  return Keeper(*arguments, signals.get()).supervise(*command);
}

}  // namespace portpool::cli
