#include "keeper.hpp"
#include "resource_limits.hpp"

#include "bind_adoption.hpp"
#include "exit_codes.hpp"
#include "pid_file.hpp"
#include "process_state.hpp"
#include "tree_shutdown.hpp"

#include <portpool/parse_integer.hpp>
#include <portpool/process_tree.hpp>
#include <portpool/unique_fd.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portpool::cli {
namespace {

// keeper_command PARENT REPORT TERMINAL GRACE FORKING PID_FILE_TIMEOUT PID_FILE PROGRAM ARGV0
constexpr int argument_count = 10;

// How often the pid file is read while the keeper waits for it, and how often a main process that
// is not the keeper's child (whose end no SIGCHLD tells) is looked at.
constexpr std::chrono::milliseconds pid_file_poll_interval{50};
constexpr std::chrono::milliseconds main_process_poll_interval{200};

// With PORTPOOL_KEEPER_ADOPT (`run --adopt-mode seccomp`), the listening socket the adopted binds get.
constexpr int adoption_held_socket = 3;

struct KeeperArguments {
  pid_t parent = 0;
  int report = -1;
  int terminal = -1;
  std::chrono::milliseconds grace{0};
  bool forking = false;
  std::chrono::milliseconds pid_file_timeout{0};
  std::string pid_file;  ///< empty: none
  const char* program = nullptr;
  char** command = nullptr;
  std::vector<std::uint16_t> adopted_ports;  ///< from PORTPOOL_KEEPER_ADOPT; empty: none
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
  auto forking = number(argv[6]);
  auto pid_file_timeout = number(argv[7]);
  if (!parent || !report || !terminal || !grace || !forking || !pid_file_timeout) {
    return std::nullopt;
  }
  return KeeperArguments{static_cast<pid_t>(*parent),
                         static_cast<int>(*report),
                         static_cast<int>(*terminal),
                         std::chrono::milliseconds(*grace),
                         *forking == 1,
                         std::chrono::milliseconds(*pid_file_timeout),
                         argv[8],
                         argv[9],
                         argv + argument_count,
                         {}};
}

void send_report(int descriptor, KeeperReport report) {
  while (::write(descriptor, &report, sizeof report) < 0 && errno == EINTR) {
  }
}

// The keeper cannot do what `portpool` asked: `message` (a sentence) is said, and reported with `error`.
int refuse(const KeeperArguments& arguments, const std::string& message, int error) {
  std::fprintf(stderr, "portpool: %s\n", message.c_str());
  send_report(arguments.report, {KeeperReport::keeper_failed, error});
  return exit_code::system_failure;
}

bool is_listening_tcp_socket(int descriptor) {
  int listening = 0;
  int protocol = 0;
  socklen_t size = sizeof listening;
  if (::getsockopt(descriptor, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) != 0) {
    return false;
  }
  size = sizeof protocol;
  return ::getsockopt(descriptor, SOL_SOCKET, SO_PROTOCOL, &protocol, &size) == 0 && listening == 1 &&
         protocol == IPPROTO_TCP;
}

// PORTPOOL_KEEPER_ADOPT, taken out of CMD's environment into `arguments`. Returns the exit code when
// the binds cannot be adopted (said, and reported), before CMD is started.
std::optional<int> take_adopted_ports(KeeperArguments& arguments) {
  const char* variable = std::getenv(adopted_ports_variable);
  if (variable == nullptr) {
    return std::nullopt;
  }
  const std::string value = variable;
  ::unsetenv(adopted_ports_variable);
  auto ports = keeper_adopted_ports(value);
  if (!ports) {
    return refuse(arguments,
                  fmt::format("the keeper of CMD's process tree got {}={}, which is not a list of port numbers such "
                              "as 8000,8001",
                              adopted_ports_variable, value),
                  EINVAL);
  }
  if (auto problem = seccomp_adoption_unavailable()) {
    return refuse(arguments, *problem, ENOSYS);
  }
  if (!is_listening_tcp_socket(adoption_held_socket)) {
    return refuse(arguments,
                  fmt::format("--adopt-mode seccomp: descriptor {} of the keeper of CMD's process tree is not a "
                              "listening TCP socket, which the adopted binds would get",
                              adoption_held_socket),
                  EBADF);
  }
  arguments.adopted_ports = std::move(*ports);
  return std::nullopt;
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
  sigaddset(&set, forwarded_signal());
  return set;
}

sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);  // the parent-death signal
  sigaddset(&set, SIGCONT);
  sigaddset(&set, end_by_signal);
  sigaddset(&set, forwarded_signal());
  return set;
}

// In the child, which is single-threaded like the keeper: anything may run before exec. With adopted
// ports, the bind filter is installed last, and its listener sent on `adoption_channel`.
[[noreturn]] void exec_command(const KeeperArguments& arguments, pid_t keeper, int exec_report, int adoption_channel) {
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
  if (adoption_channel >= 0) {
    if (std::getenv("LISTEN_FDS") == nullptr) {
      ::fcntl(adoption_held_socket, F_SETFD, FD_CLOEXEC);  // CMD gets the socket by its bind
    }
    auto outcome = install_bind_filter();
    if (!send_filter_outcome(adoption_channel, outcome) || outcome.listener < 0) {
      ::_exit(exit_code::system_failure);
    }
  }
  ::execv(arguments.program, arguments.command);
  int error = errno;
  static_cast<void>(::write(exec_report, &error, sizeof error));
  ::_exit(exit_code::command_not_found);
}

int exit_code_of(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

std::string status_text(int wait_status) {
  return WIFEXITED(wait_status) ? fmt::format("status {}", WEXITSTATUS(wait_status))
                                : fmt::format("signal {}", WTERMSIG(wait_status));
}

class Keeper {
 public:
  Keeper(const KeeperArguments& arguments, int signals, std::optional<BindAdoption> adoption)
      : arguments_(arguments), signals_(signals), adoption_(std::move(adoption)) {}

  // CMD started: waits for it, then ends what it left, or with --forking follows the service it
  // left. Returns the exit code of `portpool run`.
  int supervise(pid_t command) {
    command_ = command;
    if (!handle_signals_until([this] { return command_status_.has_value(); }, std::nullopt)) {
      finish();
      return exit_code::system_failure;
    }
    if (!arguments_.forking) {
      report_leftovers();
      finish();
      return exit_code_of(*command_status_);
    }
    if (!WIFEXITED(*command_status_) || WEXITSTATUS(*command_status_) != 0) {
      report_failed_start();
      finish();
      return exit_code_of(*command_status_);
    }
    return follow_service();
  }

 private:
  // Reads and handles signals until `done()` holds, looking at it after each signal and, with a
  // `poll_interval`, at least that often; meanwhile answers the binds of CMD's tree when they are
  // adopted. false when the tree must be ended now: `portpool` died, or the signals cannot be read
  // (said on standard error).
  bool handle_signals_until(const std::function<bool()>& done, std::optional<std::chrono::milliseconds> poll_interval) {
    while (!done()) {
      std::array<pollfd, 2> readable{{{signals_, POLLIN, 0}, {adoption_ ? adoption_->descriptor() : -1, POLLIN, 0}}};
      int ready =
          ::poll(readable.data(), readable.size(), poll_interval ? static_cast<int>(poll_interval->count()) : -1);
      if (ready == 0 || (ready < 0 && errno == EINTR)) {
        continue;
      }
      if (ready > 0 && readable[1].revents != 0) {
        serve_binds(readable[1].revents);
      }
      if (ready > 0 && readable[0].revents == 0) {
        continue;
      }
      signalfd_siginfo signal{};
      ssize_t count = -1;
      if (ready > 0) {
        count = ::read(signals_, &signal, sizeof signal);
      }
      if (count < 0 && errno == EINTR) {
        continue;
      }
      if (count != static_cast<ssize_t>(sizeof signal)) {
        std::fprintf(stderr, "portpool: the keeper of CMD's process tree cannot read its signals: %s\n",
                     errno_text(errno).c_str());
        return false;
      }
      if (!handle(signal)) {
        return false;  // `portpool` died: nobody reads the status
      }
    }
    return true;
  }

  // A bind of CMD's tree waits for its answer. The listener hangs up once no process of the tree
  // is left; should it fail, the binds of the tree fail from then on (ENOSYS), which is said.
  void serve_binds(short events) {
    if ((events & POLLIN) == 0) {
      adoption_.reset();
      return;
    }
    if (auto problem = adoption_->serve_one()) {
      std::fputs(fmt::format("portpool: --adopt-mode seccomp: {}; the binds of CMD's process tree fail from now on\n",
                             *problem)
                     .c_str(),
                 stderr);
      adoption_.reset();
    }
  }

  // false when `portpool` is gone.
  bool handle(const signalfd_siginfo& signal) {
    auto number = static_cast<int>(signal.ssi_signo);
    const bool from_parent = static_cast<pid_t>(signal.ssi_pid) == arguments_.parent && signal.ssi_code == SI_QUEUE;
    if (number == SIGCHLD) {
      reap();
    } else if (number == SIGCONT) {
      resume_job();
    } else if (number == SIGTERM && ::getppid() != arguments_.parent) {
      return false;
    } else if (number == end_by_signal && from_parent && !end_by_) {
      end_by_ = std::chrono::steady_clock::now() + arguments_.grace;
    } else if (number == forwarded_signal() && from_parent) {
      forward(signal.ssi_int);
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
      if (reaped < 0 && errno == ECHILD) {
        children_left_ = false;  // a subreaper without children: no process of the tree is left
        if (!command_status_) {
          command_status_ = exit_code::system_failure << 8;  // cannot happen: SIGCHLD is not ignored here
        }
      }
      if (reaped <= 0) {
        return;
      }
      if (reaped == command_) {
        if (WIFSTOPPED(status)) {
          stop_job(WSTOPSIG(status));
        } else {
          command_status_ = status;
        }
      } else if (!WIFSTOPPED(status)) {  // a process at the top of the tree, orphaned by its parent
        top_status_ = status;
        if (main_ && reaped == *main_) {
          main_status_ = status;
        }
      }
    }
  }

  // The signal `portpool` got, on to the service: CMD's group during start-up, then the main
  // process while it runs, else each process at the top of what CMD left.
  void forward(int number) const {
    if (!started_up_) {
      ::kill(-command_, number);
    } else if (main_ && is_running(*main_) && is_descendant(*main_, ::getpid())) {
      ::kill(*main_, number);
    } else {
      for (auto process : descendants_of(::getpid())) {
        if (parent_of(process) == ::getpid()) {
          ::kill(process, number);
        }
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
                           "foreground under portpool run (nginx: -g 'daemon off;'), or be run with --forking\n",
                           exit_code_of(*command_status_), left.size(), left.size() == 1 ? "" : "es",
                           fmt::join(left, ", "), left.size() == 1 ? "it" : "them", arguments_.grace.count())
                   .c_str(),
               stderr);
  }

  // --forking: only CMD's exit with status 0 ends a start-up well.
  void report_failed_start() const {
    auto left = descendants_of(::getpid());
    std::fputs(fmt::format("portpool: CMD ended with {} during its start-up (--forking: a start-up ends well with "
                           "status 0 only): the start failed{}\n",
                           status_text(*command_status_),
                           left.empty() ? std::string()
                                        : fmt::format("; ending the {} process{} it left (pid {})", left.size(),
                                                      left.size() == 1 ? "" : "es", fmt::join(left, ", ")))
                   .c_str(),
               stderr);
  }

  // --forking, CMD exited 0: the service is the tree it left, and with a pid file its main process.
  int follow_service() {
    started_up_ = true;
    if (arguments_.terminal >= 0 && ::tcgetpgrp(arguments_.terminal) == command_) {
      ::tcsetpgrp(arguments_.terminal, ::getpgrp());  // CMD's group, gone or detached, no longer reads it
    }
    if (!arguments_.pid_file.empty()) {
      if (auto failure = find_main_process()) {
        finish();
        return *failure;
      }
    }
    if (!children_left_) {
      std::fputs(fmt::format("portpool: CMD's start-up (--forking) ended with status 0 and no process of its tree is "
                             "left: the service has ended{}\n",
                             top_status_ ? " (its last process with " + status_text(*top_status_) + ")"
                                         : std::string(", or never ran: a daemon that forks must leave a process"))
                     .c_str(),
                 stderr);
      return top_status_ ? exit_code_of(*top_status_) : exit_code::success;
    }
    notify_ready();
    const bool poll_main = main_ && parent_of(*main_) != ::getpid();
    auto service_ended = [this, poll_main] {
      return !children_left_ || main_status_ ||
             (poll_main && !(is_running(*main_) && is_descendant(*main_, ::getpid())));
    };
    if (!handle_signals_until(service_ended, poll_main ? std::optional(main_process_poll_interval) : std::nullopt)) {
      finish();
      return exit_code::system_failure;
    }
    if (main_) {
      report_main_process_end();
      finish();
      return main_status_ ? exit_code_of(*main_status_) : exit_code::success;
    }
    return top_status_ ? exit_code_of(*top_status_) : exit_code::success;
  }

  // Waits up to the pid file's timeout for it to name a running process of the tree. Returns the
  // exit code when it does not (said on standard error), nullopt when main_ is set or the whole
  // tree ended first.
  std::optional<int> find_main_process() {
    auto deadline = std::chrono::steady_clock::now() + arguments_.pid_file_timeout;
    PidFileReading reading;
    auto settled = [&] {
      if (!children_left_) {
        return true;
      }
      reading = read_pid_file(arguments_.pid_file, ::getpid());
      return reading.kind == PidFileReading::Kind::main_process || reading.kind == PidFileReading::Kind::refused ||
             std::chrono::steady_clock::now() >= deadline;
    };
    if (!handle_signals_until(settled, pid_file_poll_interval)) {
      return exit_code::system_failure;
    }
    if (!children_left_) {
      return std::nullopt;
    }
    if (reading.kind == PidFileReading::Kind::main_process) {
      main_ = reading.pid;
      return std::nullopt;
    }
    if (reading.kind == PidFileReading::Kind::refused) {
      std::fputs(fmt::format("portpool: {}; ending the processes CMD's start-up left\n", reading.problem).c_str(),
                 stderr);
    } else {
      std::fputs(fmt::format("portpool: {} ms after CMD's start-up ended (--ready-timeout), {}: check that the "
                             "daemon writes its pid to that file (nginx: the pid directive; redis-server: "
                             "--pidfile), or leave --pid-file out; ending the processes CMD's start-up left\n",
                             arguments_.pid_file_timeout.count(), reading.problem)
                     .c_str(),
                 stderr);
    }
    return exit_code::usage;
  }

  // The main process ended, and with it the service: what is left of the tree is ended, and said.
  void report_main_process_end() const {
    auto left = descendants_of(::getpid());
    if (left.empty()) {
      return;
    }
    std::fputs(fmt::format("portpool: the main process (pid {}, from the pid file) ended{}; ending the {} process{} "
                           "it left (pid {})\n",
                           *main_, main_status_ ? " with " + status_text(*main_status_) : std::string(), left.size(),
                           left.size() == 1 ? "" : "es", fmt::join(left, ", "))
                   .c_str(),
               stderr);
  }

  // systemd's notify protocol, as CMD would speak it: `portpool` records the service as ready.
  void notify_ready() const {
    const char* address = std::getenv("NOTIFY_SOCKET");
    if (address == nullptr || address[0] != '@') {
      return;
    }
    std::string_view name(address + 1);
    sockaddr_un target{};
    if (name.size() + 1 > sizeof target.sun_path) {
      return;
    }
    target.sun_family = AF_UNIX;
    std::memcpy(target.sun_path + 1, name.data(), name.size());  // sun_path[0] stays 0: an abstract name
    UniqueFd socket(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    auto message = main_ ? fmt::format("READY=1\nMAINPID={}", *main_) : std::string("READY=1");
    ::sendto(socket.get(), message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&target),
             static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size()));
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
    // Once CMD is long gone its group id may be another's: the tree's processes are found one by one.
    end_process_tree(started_up_ ? 0 : command_, grace);
  }

  const KeeperArguments& arguments_;
  int signals_;
  std::optional<BindAdoption> adoption_;  ///< --adopt-mode seccomp, while CMD's tree may bind
  pid_t command_ = -1;
  std::optional<int> command_status_;
  std::optional<std::chrono::steady_clock::time_point> end_by_;  ///< `portpool` is ending the tree by then
  bool job_stopped_ = false;
  bool started_up_ = false;         ///< --forking: CMD exited 0
  bool children_left_ = true;       ///< false once the keeper has no child: the tree is gone
  std::optional<int> top_status_;   ///< the last process at the top of the tree that ended (not CMD)
  std::optional<pid_t> main_;       ///< --pid-file: the main process
  std::optional<int> main_status_;  ///< its status, when it was the keeper's child
};

struct StartedCommand {
  pid_t pid = -1;
  std::optional<BindAdoption> adoption;  ///< with adopted ports
};

// With adopted ports: the listener of the bind filter CMD's process installed. nullopt (after
// waiting for that process and reporting why) when it could not.
std::optional<BindAdoption> receive_adoption(const KeeperArguments& arguments, pid_t command, int channel) {
  auto received = receive_bind_listener(channel);
  if (!received.descriptor) {
    while (::waitpid(command, nullptr, 0) < 0 && errno == EINTR) {
    }
    refuse(arguments, received.problem, received.error);
    return std::nullopt;
  }
  return BindAdoption(std::move(*received.descriptor), adoption_held_socket, arguments.adopted_ports);
}

// CMD's pid once it executed its program; nullopt (after reporting why) when it could not.
std::optional<StartedCommand> start_command(const KeeperArguments& arguments) {
  int exec_report[2];
  if (::pipe2(exec_report, O_CLOEXEC) != 0) {
    fail(arguments, "pipe2");
    return std::nullopt;
  }
  UniqueFd report_read(exec_report[0]);
  UniqueFd report_write(exec_report[1]);
  int adoption_channel[2] = {-1, -1};
  if (!arguments.adopted_ports.empty() &&
      ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, adoption_channel) != 0) {
    fail(arguments, "socketpair");
    return std::nullopt;
  }
  UniqueFd adoption_keeper_end(adoption_channel[0]);
  UniqueFd adoption_command_end(adoption_channel[1]);
  const pid_t keeper = ::getpid();
  const pid_t command = ::fork();
  if (command < 0) {
    fail(arguments, "fork");
    return std::nullopt;
  }
  if (command == 0) {
    exec_command(arguments, keeper, report_write.get(), adoption_command_end.get());
  }
  ::setpgid(command, command);  // also here: whichever runs first, the group exists before anyone signals it
  report_write.reset();
  adoption_command_end.reset();
  StartedCommand started{command, std::nullopt};
  if (adoption_keeper_end) {
    started.adoption = receive_adoption(arguments, command, adoption_keeper_end.get());
    if (!started.adoption) {
      return std::nullopt;
    }
  }
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
  return started;
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
  if (auto refused = take_adopted_ports(*arguments)) {
    return *refused;
  }
  auto command = start_command(*arguments);
  if (!command) {
    return exit_code::command_not_found;
  }
  ::close(arguments->report);
  return Keeper(*arguments, signals.get(), std::move(command->adoption)).supervise(command->pid);
}

}  // namespace portpool::cli
