#pragma once

// The keeper: the process between `portpool run` and CMD. `portpool` re-executes itself as
//
//   portpool keep-process-tree PARENT REPORT_FD TERMINAL_FD GRACE_MS FORKING PID_FILE_TIMEOUT_MS PID_FILE
//                              PROGRAM ARGV...
//
// (a fresh single-threaded process, whatever threads `portpool` runs), with CMD's environment.
// The keeper is a child subreaper: every process CMD starts stays in its tree, even when its
// parent dies (double-forking daemons). It starts CMD in a process group of its own, hands CMD
// the terminal when `portpool` had it, reports CMD's pid (or why it could not be executed) on
// REPORT_FD, and waits. When CMD exits it ends whatever CMD left behind (SIGTERM, GRACE_MS,
// SIGKILL) and exits with CMD's status (128 + signal when killed). When `portpool` dies, even by
// SIGKILL, the keeper gets the parent-death signal and ends the whole tree the same way. The
// keeper and CMD inherit the port's lock descriptor, so that a lock that belongs to the open file
// (not to the process) stays held until the last process of the tree that has it open is gone.
//
// FORKING "1" (`run --forking`, systemd's Type=forking): CMD's exit with status 0 ends the
// start-up, not the service, which is the tree CMD leaves. With a PID_FILE (else ""), the keeper
// reads the main process from it, waiting up to PID_FILE_TIMEOUT_MS, and the service ends with the
// main process; without, with the last process of the tree. The keeper then says READY=1 on
// $NOTIFY_SOCKET, forwards the signals `portpool` queues to it (forwarded_signal()) to the main
// process, or to each process at the top of the tree, and exits once the service has ended.
//
// PORTPOOL_KEEPER_ADOPT=8000,8001 in the environment (`run --adopt-mode seccomp`): descriptor 3 is a
// listening TCP socket, which the binds of those port numbers by CMD's tree get (bind_adoption.hpp).
// The keeper takes the variable out of CMD's environment, refuses (on standard error, and
// keeper_failed on REPORT_FD) before starting CMD when this kernel cannot adopt binds, installs the
// bind filter in CMD's process before exec, and serves it while it waits. CMD does not inherit
// descriptor 3 unless LISTEN_FDS is set.

#include <signal.h>
#include <sys/types.h>

#include <cstdint>

namespace portpool::cli {

inline constexpr const char* keeper_command = "keep-process-tree";

/// Queued (sigqueue) by `portpool` to its keepers when it begins to end their trees after a lost
/// port: should `portpool` die before it has, the keeper ends the tree by the same time (the grace
/// counted from the notice, not from the death). Sent by anyone else, or plainly (kill), it is ignored.
inline constexpr int end_by_signal = SIGUSR1;

/// Queued (sigqueue) by `portpool` to the keeper of a forking service, with the number of a signal
/// to forward as its value: the keeper knows whether CMD's group, the main process or the top of the
/// tree is the service now. Sent by anyone else, or plainly (kill), it is ignored.
inline int forwarded_signal() { return SIGRTMIN; }

/// What the keeper writes on REPORT_FD, once: CMD started, or could not be executed.
struct KeeperReport {
  enum Kind : std::int32_t { started = 1, exec_failed = 2, keeper_failed = 3 };
  std::int32_t kind = 0;
  std::int32_t value = 0;  ///< started: CMD's pid (and process group); otherwise the errno
};

/// The keeper's main: `argv` as described above, argv[1] being keeper_command.
int run_keeper(int argc, char** argv);

}  // namespace portpool::cli
