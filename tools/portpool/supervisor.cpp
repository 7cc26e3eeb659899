#include "supervisor.hpp"

#include "exit_codes.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>

#include <array>
#include <cerrno>
#include <system_error>

namespace portpool::cli {
namespace {

constexpr std::array<int, 6> forwarded_signals{SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

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
  auto set = supervised_signals();
  if (int error = ::pthread_sigmask(SIG_BLOCK, &set, &original_mask); error != 0) {
    throw std::system_error(error, std::system_category(), "pthread_sigmask");
  }
  int descriptor = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (descriptor < 0) {
    throw std::system_error(errno, std::system_category(), "signalfd");
  }
  return descriptor;
}

int exit_code_of(int wait_status) {
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
}

}  // namespace

Supervisor::Supervisor() : signals_(context_, block_into_signalfd(original_mask_)) {}

Supervisor::~Supervisor() {
  boost::system::error_code ignored;
  signals_.close(ignored);
  ::pthread_sigmask(SIG_SETMASK, &original_mask_, nullptr);
}

int Supervisor::supervise(pid_t child) {
  child_ = child;
  if (!reap()) {
    wait_for_signal();
    context_.run();
  }
  return exit_status_;
}

void Supervisor::terminate_child() const {
  if (child_ > 0) {
    ::kill(child_, SIGTERM);
  }
}

void Supervisor::wait_for_signal() {
  signals_.async_read_some(boost::asio::buffer(&received_, sizeof received_),
                           [this](const boost::system::error_code& error, std::size_t size) {
                             if (error) {
                               return;
                             }
                             if (size == sizeof received_) {
                               handle(received_);
                             }
                             if (child_ > 0) {
                               wait_for_signal();
                             }
                           });
}

// A signal the kernel sent (the terminal's Ctrl-C, Ctrl-\, hangup) went to the whole foreground
// process group; when CMD is in ours it already has it, and a second copy would make many programs
// quit without cleaning up.
void Supervisor::handle(const signalfd_siginfo& signal) {
  auto number = static_cast<int>(signal.ssi_signo);
  if (number == SIGCHLD) {
    if (reap()) {
      context_.stop();
    }
    return;
  }
  if (signal.ssi_code == SI_KERNEL && ::getpgid(child_) == ::getpgrp()) {
    return;
  }
  ::kill(child_, number);
}

bool Supervisor::reap() {
  int status = 0;
  pid_t result = 0;
  while ((result = ::waitpid(child_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (result != child_) {
    return false;
  }
  exit_status_ = exit_code_of(status);
  child_ = -1;
  return true;
}

}  // namespace portpool::cli
