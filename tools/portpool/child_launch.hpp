#pragma once

// Starting CMD: fork, exec the keeper (`portpool` itself, see keeper.hpp) with the passed sockets
// (descriptors 3 and 4) and the lock descriptor set up, and learn from it CMD's pid or why CMD
// could not be executed.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace portpool::cli {

/// The most sockets CMD is given: a `both` service's listening TCP socket and UDP socket.
inline constexpr int max_passed_sockets = 2;

struct LaunchRequest {
  std::string program;                 ///< the file to execute
  std::vector<std::string> arguments;  ///< argv, starting with the command as typed
  std::vector<std::string> environment;
  std::vector<int> sockets;  ///< passed as descriptors 3, 4 in this order (at most max_passed_sockets)
  int lock_descriptor = -1;  ///< when >= 0: inherited by the keeper and CMD (see docs/cli.md)
  std::chrono::milliseconds kill_grace{5000};         ///< between SIGTERM and SIGKILL for leftovers
  bool forking = false;                               ///< --forking: CMD's exit 0 ends its start-up, not the service
  std::string pid_file;                               ///< --pid-file (with forking), or empty
  std::chrono::milliseconds pid_file_timeout{30000};  ///< how long the pid file may take to name the main process
  std::vector<std::uint16_t> adopted_ports;           ///< run --adopt: the port numbers whose binds get descriptor 3
  bool adopt_by_seccomp = false;  ///< the keeper adopts them (PORTPOOL_KEEPER_ADOPT in its environment)
};

/// The processes of one run of CMD.
struct LaunchedCommand {
  pid_t keeper = -1;     ///< this process's child; exits with CMD's status once the tree is gone
  pid_t command = -1;    ///< CMD, the leader of its own process group
  bool forking = false;  ///< signals go through the keeper, which knows what the service is now
};

/// Starts the keeper and, through it, CMD; returns once CMD has executed its program. Both get
/// SIGTERM if this process dies (even by SIGKILL), and the keeper then ends the whole tree.
/// @throws CommandError (127 or 126) when exec fails, (71) when the keeper fails, after reaping
/// the keeper; std::system_error when fork or pipe fail.
LaunchedCommand launch(const LaunchRequest& request);

}  // namespace portpool::cli
