#include "lease_end.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace portpool::cli {
namespace {

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

sigset_t ending_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int number : {SIGTERM, SIGINT, SIGHUP}) {
    sigaddset(&signals, number);
  }
  return signals;
}

// Reads what stdin has; false at end of file or when stdin is closed or broken. The data itself
// means nothing: only the end of the pipe does.
bool standard_input_open() {
  std::array<char, 4096> discarded{};
  ssize_t count = 0;
  do {
    count = ::read(STDIN_FILENO, discarded.data(), discarded.size());
  } while (count < 0 && errno == EINTR);
  return count > 0 || (count < 0 && errno == EAGAIN);
}

}  // namespace

LeaseEnd::LeaseEnd(pid_t expected_parent) {
  const auto signals = ending_signals();
  if (::sigprocmask(SIG_BLOCK, &signals, nullptr) != 0) {
    fail("cannot block signals");
  }
  signals_.reset(::signalfd(-1, &signals, SFD_CLOEXEC));
  if (!signals_) {
    fail("cannot create a signalfd");
  }
  const auto parent = expected_parent != 0 ? expected_parent : ::getppid();
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
    fail("cannot ask to be told of the parent's death (prctl)");
  }
  // The parent may have died before prctl: then this process was reparented already. Only a
  // parent that passed its pid can tell a death before this process started.
  parent_gone_ = ::getppid() != parent;
}

bool LeaseEnd::ended() const {
  std::array<pollfd, 2> watched{{{signals_.get(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}}};
  if (::poll(watched.data(), watched.size(), 0) <= 0) {
    return false;
  }
  return watched[0].revents != 0 || (watched[1].revents != 0 && !standard_input_open());
}

void LeaseEnd::wait(int client_descriptor, const std::function<void()>& on_client) const {
  std::array<pollfd, 3> watched{
      {{signals_.get(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}, {client_descriptor, POLLIN, 0}}};
  const nfds_t count = client_descriptor >= 0 ? 3 : 2;
  while (true) {
    if (::poll(watched.data(), count, -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      fail("cannot wait for the end of the lease (poll)");
    }
    if (watched[0].revents != 0) {
      return;  // a signal: which one does not matter, each ends the lease the same way
    }
    if (watched[1].revents != 0 && !standard_input_open()) {
      return;
    }
    if (count == 3 && watched[2].revents != 0 && on_client) {
      on_client();
    }
  }
}

}  // namespace portpool::cli
