#include "port_wait.hpp"

#include <signal.h>

#include <algorithm>
#include <cerrno>

namespace portpool::cli {

int take_pending_ending_signal() {
  sigset_t ending;
  sigemptyset(&ending);
  for (int number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    sigaddset(&ending, number);
  }
  const timespec no_wait{};
  int number = 0;
  while ((number = ::sigtimedwait(&ending, nullptr, &no_wait)) < 0 && errno == EINTR) {
  }
  return std::max(number, 0);
}

}  // namespace portpool::cli
