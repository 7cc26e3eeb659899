// CMD of the fault rounds (test_fleet_rounds.cpp): the program each host's `portpool run` starts while it
// holds the port.
//
//   portpool_fleet_rounds_command WITNESS_SOCKET HISTORY_LOG HOST ATTEMPT obey-term|ignore-term
//
// At its start it reads CLOCK_MONOTONIC, connects to the test's witness socket (a Unix socket) and sends
// "ATTEMPT HOST PID\n": the test sees the connection close the moment this process is gone, however it ends
// (SIGKILL included). Then it appends "start ATTEMPT HOST PORT PID NANOSECONDS" to HISTORY_LOG. SIGTERM
// appends "term ATTEMPT HOST PORT PID NANOSECONDS" and ends the process, unless it was started with ignore-term or
// SIGUSR1 came: from then on it outlives SIGTERM (a tree that must be killed), which SIGUSR1 confirms with
// "ignoring ATTEMPT ...". It
// also ends when the test closes its end of the witness socket. Each line is one write(2) in O_APPEND mode,
// so lines of several processes do not mix.

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int history = -1;
volatile sig_atomic_t ignoring_term = 0;
char identity[160];  // "ATTEMPT HOST PORT PID", formatted before any handler is installed

long long monotonic_nanoseconds() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

// Async-signal-safe: snprintf of integers and strings only, and one write.
void append(const char* event, long long nanoseconds) {
  char line[256];
  int length = std::snprintf(line, sizeof line, "%s %s %lld\n", event, identity, nanoseconds);
  if (length > 0) {
    [[maybe_unused]] auto written = ::write(history, line, static_cast<std::size_t>(length));
  }
}

void on_term(int /*signal*/) {
  append("term", monotonic_nanoseconds());
  if (ignoring_term == 0) {
    ::_exit(0);
  }
}

void on_usr1(int /*signal*/) {
  ignoring_term = 1;
  append("ignoring", monotonic_nanoseconds());
}

}  // namespace

int main(int argc, char** argv) {
  auto started = monotonic_nanoseconds();
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s WITNESS_SOCKET HISTORY_LOG HOST ATTEMPT obey-term|ignore-term\n", argv[0]);
    return 64;
  }
  ignoring_term = std::strcmp(argv[5], "ignore-term") == 0 ? 1 : 0;
  const char* port = std::getenv("PORTPOOL_PORT");
  std::snprintf(identity, sizeof identity, "%s %s %s %d", argv[4], argv[3], port != nullptr ? port : "0",
                static_cast<int>(::getpid()));
  history = ::open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  // The handlers come first: once the test knows this process (from the witness socket) it may signal it.
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_handler = on_usr1;
  ::sigaction(SIGUSR1, &action, nullptr);
  action.sa_handler = on_term;
  ::sigaction(SIGTERM, &action, nullptr);
  int witness = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, argv[1], sizeof address.sun_path - 1);
  if (history < 0 || witness < 0 ||
      ::connect(witness, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    std::perror("portpool_fleet_rounds_command: the history log or the witness socket");
    return 70;
  }
  std::string hello = std::string(argv[4]) + " " + argv[3] + " " + std::to_string(::getpid()) + "\n";
  if (::write(witness, hello.data(), hello.size()) != static_cast<ssize_t>(hello.size())) {
    return 70;
  }

  append("start", started);

  char buffer[64];
  while (true) {
    auto count = ::read(witness, buffer, sizeof buffer);
    if (count == 0 || (count < 0 && errno != EINTR)) {
      return 0;
    }
  }
}
