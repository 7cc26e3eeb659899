// portpool_cli_child: the CMD that the CLI tests start under `portpool run`. It reports on
// stdout, one line at a time, what it was given and what happened to it.
//
//   portpool_cli_child env [ARGS...]   print PORT, PORTPOOL_*, LISTEN_* and ARGS, then exit 0
//   portpool_cli_child hold [CODE]     print "READY <port>", wait for stdin to close, exit CODE
//   portpool_cli_child serve           check LISTEN_FDS/LISTEN_PID, print "READY <port>", accept one
//                                      connection on descriptor 3, answer "hello from <port>"
//   portpool_cli_child signals         print "READY <port>", then "SIGNAL <n>" for every SIGHUP,
//                                      SIGINT, SIGUSR1 and SIGTERM; exit 42 after SIGTERM
//   portpool_cli_child listen          listen on 127.0.0.1:$PORT itself, print "READY <port>", answer
//                                      every connection "hello from <port>"; on SIGTERM print
//                                      "SIGNAL 15" and exit 42
//   portpool_cli_child kill-self SIG   die by signal SIG
//   portpool_cli_child listen-stubborn [until-eof]
//                                      like listen, but SIGTERM only makes it print "SIGTERM IGNORED":
//                                      only SIGKILL ends it, or, with until-eof, the end of its stdin
//                                      (then it exits 0)
//   portpool_cli_child daemonize CMD... start CMD as a daemon (fork, setsid, fork: CMD's parent
//                                      exits at once), then wait for stdin to close, exit 0
//   portpool_cli_child notify-serve    serve on descriptor 3 (LISTEN_FDS, LISTEN_PID checked): print
//                                      "SERVING <pid>", send READY=1 to $NOTIFY_SOCKET, answer every
//                                      connection "hello from <pid>"; on SIGTERM send STOPPING=1, finish
//                                      the connection in hand and exit 0
//   portpool_cli_child fork-storm      print "READY <port>", then fork without pause, SIGTERM ignored:
//                                      each child lives 10 ms, or, once the forking process is gone,
//                                      until SIGKILL (60 s at most)
//   portpool_cli_child hostile CMD...  exec CMD with SIGCHLD ignored, SIGCHLD, SIGTERM, SIGINT, SIGHUP,
//                                      SIGUSR1 and SIGUSR2 blocked, and SIGUSR2 pending, as some
//                                      launchers leave them
//
// In `signals` mode, after SIGTERM it still reports, for 300 ms, any further signal it gets: a
// signal delivered twice shows.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::string variable(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "<unset>" : value;
}

void say(const std::string& line) {
  auto text = line + '\n';
  static_cast<void>(::write(STDOUT_FILENO, text.data(), text.size()));
}

void wait_for_stdin_to_close() {
  char buffer[256];
  while (::read(STDIN_FILENO, buffer, sizeof buffer) > 0) {
  }
}

int print_environment(const std::vector<std::string>& arguments) {
  for (const char* name :
       {"PORT", "PORTPOOL_PORT", "PORTPOOL_SERVICE", "PORTPOOL_INSTANCE", "LISTEN_FDS", "LISTEN_FDNAMES"}) {
    say(std::string(name) + "=" + variable(name));
  }
  say("LISTEN_PID_IS_MINE=" + std::string(variable("LISTEN_PID") == std::to_string(::getpid()) ? "yes" : "no"));
  for (const auto& argument : arguments) {
    say("ARG=" + argument);
  }
  return 0;
}

void answer_one_connection(int listening) {
  int connection = ::accept(listening, nullptr, nullptr);
  if (connection < 0) {
    return;
  }
  auto text = "hello from " + variable("PORT") + "\n";
  static_cast<void>(::write(connection, text.data(), text.size()));
  ::close(connection);
}

int serve_on_descriptor_3() {
  if (variable("LISTEN_FDS") != "1" || variable("LISTEN_PID") != std::to_string(::getpid())) {
    say("NO-SOCKET");
    return 3;
  }
  say("READY " + variable("PORT"));
  int connection = ::accept(3, nullptr, nullptr);
  if (connection < 0) {
    say("ACCEPT-FAILED");
    return 4;
  }
  auto answer = "hello from " + variable("PORT") + "\n";
  static_cast<void>(::write(connection, answer.data(), answer.size()));
  ::close(connection);
  return 0;
}

volatile sig_atomic_t last_signal = 0;

int report_signals() {
  struct sigaction action {};
  action.sa_handler = [](int number) { last_signal = number; };
  for (int number : {SIGHUP, SIGINT, SIGUSR1, SIGTERM}) {
    ::sigaction(number, &action, nullptr);
  }
  sigset_t blocked;
  sigset_t waiting;
  sigemptyset(&blocked);
  for (int number : {SIGHUP, SIGINT, SIGUSR1, SIGTERM}) {
    sigaddset(&blocked, number);
  }
  ::sigprocmask(SIG_BLOCK, &blocked, &waiting);
  say("READY " + variable("PORT"));
  while (true) {
    ::sigsuspend(&waiting);
    int number = last_signal;
    say("SIGNAL " + std::to_string(number));
    if (number == SIGTERM) {
      timespec linger{0, 300'000'000};
      for (int more = 0; (more = ::sigtimedwait(&blocked, nullptr, &linger)) > 0;) {
        say("SIGNAL " + std::to_string(more));
      }
      return 42;
    }
  }
}

// A listener on 127.0.0.1:$PORT, or -1.
int listen_on_port() {
  int listening = ::socket(AF_INET, SOCK_STREAM, 0);
  int reuse = 1;
  ::setsockopt(listening, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(variable("PORT").c_str())));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listening, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listening, 16) != 0) {
    say("LISTEN-FAILED");
    return -1;
  }
  return listening;
}

// Records SIGTERM in last_signal instead of dying of it, and blocks it; returns the mask to wait with
// (ppoll), in which it is unblocked.
sigset_t catch_sigterm_blocked() {
  struct sigaction action {};
  action.sa_handler = [](int number) { last_signal = number; };
  ::sigaction(SIGTERM, &action, nullptr);
  sigset_t blocked;
  sigset_t waiting;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &blocked, &waiting);
  return waiting;
}

// SIGTERM stays blocked except inside ppoll, so that it cannot slip in between two waits.
int listen_until_sigterm() {
  int listening = listen_on_port();
  if (listening < 0) {
    return 5;
  }
  sigset_t waiting = catch_sigterm_blocked();
  say("READY " + variable("PORT"));
  pollfd incoming{listening, POLLIN, 0};
  while (true) {
    if (::ppoll(&incoming, 1, nullptr, &waiting) > 0) {
      answer_one_connection(listening);
    } else if (last_signal == SIGTERM) {
      say("SIGNAL " + std::to_string(SIGTERM));
      return 42;
    }
  }
}

void notify(const std::string& message) {
  auto address = variable("NOTIFY_SOCKET");
  if (address.empty() || address.size() >= sizeof(sockaddr_un::sun_path) || (address[0] != '@' && address[0] != '/')) {
    say("NO-NOTIFY-SOCKET");
    return;
  }
  sockaddr_un target{};
  target.sun_family = AF_UNIX;
  std::memcpy(target.sun_path, address.data(), address.size());
  if (address[0] == '@') {
    target.sun_path[0] = '\0';
  }
  int socket = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size());
  static_cast<void>(
      ::sendto(socket, message.data(), message.size(), 0, reinterpret_cast<const sockaddr*>(&target), length));
  ::close(socket);
}

int notify_and_serve() {
  if (variable("LISTEN_FDS") != "1" || variable("LISTEN_PID") != std::to_string(::getpid())) {
    say("NO-SOCKET");
    return 3;
  }
  sigset_t waiting = catch_sigterm_blocked();
  auto pid = std::to_string(::getpid());
  say("SERVING " + pid);
  notify("READY=1\nSTATUS=serving");
  pollfd incoming{3, POLLIN, 0};
  while (true) {
    if (::ppoll(&incoming, 1, nullptr, &waiting) > 0) {
      int connection = ::accept(3, nullptr, nullptr);
      if (connection >= 0) {
        auto answer = "hello from " + pid + "\n";
        static_cast<void>(::write(connection, answer.data(), answer.size()));
        ::close(connection);
      }
    } else if (last_signal == SIGTERM) {
      notify("STOPPING=1");
      return 0;
    }
  }
}

// SIGTERM is caught and reported, never obeyed; it stays blocked except inside ppoll.
int listen_ignoring_sigterm(bool until_eof) {
  sigset_t waiting = catch_sigterm_blocked();
  int listening = listen_on_port();
  if (listening < 0) {
    return 5;
  }
  say("READY " + variable("PORT"));
  pollfd watched[2] = {{listening, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
  const nfds_t count = until_eof ? 2 : 1;
  while (true) {
    if (::ppoll(watched, count, nullptr, &waiting) > 0) {
      if (watched[0].revents != 0) {
        answer_one_connection(listening);
      }
      char buffer[256];
      if (until_eof && watched[1].revents != 0 && ::read(STDIN_FILENO, buffer, sizeof buffer) <= 0) {
        return 0;
      }
    } else if (last_signal == SIGTERM) {
      last_signal = 0;
      say("SIGTERM IGNORED");
    }
  }
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (auto& text : strings) {
    result.push_back(text.data());
  }
  result.push_back(nullptr);
  return result;
}

int daemonize(std::vector<std::string> command) {
  auto argv = pointers(command);
  pid_t middle = ::fork();
  if (middle == 0) {
    ::setsid();
    if (::fork() == 0) {
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::_exit(0);
  }
  ::waitpid(middle, nullptr, 0);
  wait_for_stdin_to_close();
  return 0;
}

// A child of fork_storm: it ends on its own while its parent lives, and stays once it is orphaned,
// so that a process forked while the tree was being ended shows if it was missed.
[[noreturn]] void storm_child(pid_t master) {
  constexpr int lifetime_ms = 10;
  for (int waited = 0; waited < lifetime_ms; ++waited) {
    if (::getppid() != master) {
      ::alarm(60);
      while (true) {
        ::pause();
      }
    }
    ::usleep(1000);
  }
  ::_exit(0);
}

// A master that forks short-lived workers as fast as it can (32 at a time at most), ignoring
// SIGTERM: whenever its tree is ended, a child is being born.
int fork_storm() {
  constexpr int most_children = 32;
  ::signal(SIGTERM, SIG_IGN);
  say("READY " + variable("PORT"));
  const pid_t master = ::getpid();
  int children = 0;
  while (true) {
    if (children >= most_children && ::wait(nullptr) > 0) {
      --children;
    }
    pid_t child = ::fork();
    if (child == 0) {
      storm_child(master);
    }
    children += child > 0 ? 1 : 0;
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      --children;
    }
  }
}

int exec_hostile(std::vector<std::string> command) {
  ::signal(SIGCHLD, SIG_IGN);
  sigset_t blocked;
  sigemptyset(&blocked);
  for (int number : {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) {
    sigaddset(&blocked, number);
  }
  ::sigprocmask(SIG_BLOCK, &blocked, nullptr);
  ::raise(SIGUSR2);
  auto argv = pointers(command);
  ::execv(argv[0], argv.data());
  return 127;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (arguments.empty()) {
    return 64;
  }
  auto mode = arguments.front();
  arguments.erase(arguments.begin());
  if (mode == "env") {
    return print_environment(arguments);
  }
  if (mode == "hold") {
    say("READY " + variable("PORT"));
    wait_for_stdin_to_close();
    return arguments.empty() ? 0 : std::atoi(arguments.front().c_str());
  }
  if (mode == "serve") {
    return serve_on_descriptor_3();
  }
  if (mode == "signals") {
    return report_signals();
  }
  if (mode == "listen") {
    return listen_until_sigterm();
  }
  if (mode == "notify-serve") {
    return notify_and_serve();
  }
  if (mode == "listen-stubborn") {
    return listen_ignoring_sigterm(!arguments.empty() && arguments.front() == "until-eof");
  }
  if (mode == "daemonize" && !arguments.empty()) {
    return daemonize(arguments);
  }
  if (mode == "fork-storm") {
    return fork_storm();
  }
  if (mode == "hostile" && !arguments.empty()) {
    return exec_hostile(arguments);
  }
  if (mode == "kill-self" && !arguments.empty()) {
    int number = std::atoi(arguments.front().c_str());
    ::signal(number, SIG_DFL);
    ::raise(number);
  }
  return 64;
}
