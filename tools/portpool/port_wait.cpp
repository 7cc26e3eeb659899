#include "port_wait.hpp"

#include <signal.h>

namespace portpool::cli {

int pending_ending_signal() {
  sigset_t pending;
  sigemptyset(&pending);
  if (::sigpending(&pending) != 0) {
    return 0;
  }
  for (int number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
    if (sigismember(&pending, number) == 1) {
      return number;
    }
  }
  return 0;
}

}  // namespace portpool::cli
