#pragma once

// Starting CMD: fork, then in the child set up descriptor 3 and the signal mask, and exec.

#include <signal.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace portpool::cli {

struct LaunchRequest {
  std::string program;                 ///< the file to execute
  std::vector<std::string> arguments;  ///< argv, starting with the command as typed
  std::vector<std::string> environment;
  int listening_socket = -1;  ///< when >= 0: passed as descriptor 3, and LISTEN_PID is set
  sigset_t signal_mask{};     ///< the mask CMD starts with
};

/// Starts the child and returns its pid once it has executed the program. The child gets SIGTERM
/// if this process dies (even by SIGKILL): its port is no longer held for it then.
/// @throws CommandError (127 or 126) when exec fails, after reaping the child;
/// std::system_error when fork or pipe fail.
pid_t launch(const LaunchRequest& request);

}  // namespace portpool::cli
