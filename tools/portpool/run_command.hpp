#pragma once

// `portpool run [--instance N|auto] [--transport tcp|udp|both] [--socket | --adopt PORT[,PORT...]
//               [--adopt-mode preload|seccomp|auto]] [--on-lost term|warn]
//               [--kill-grace D] [--restart no|on-failure|always] [--restart-delay D] [--max-restarts N]
//               [--ready notify|accept] [--ready-timeout D] [--wait D] [--forking [--pid-file PATH]]
//               [--liveness http:PATH|tcp [--liveness-interval D] [--liveness-start-period D]
//                [--liveness-failures N]] [--etcd URL[,URL...] ...]
//               SERVICE -- CMD...`:
// takes a port of SERVICE's pool (waiting up to --wait for one to be released), runs CMD's process
// tree with it, holds it until the tree is gone; restarts CMD when it stops answering (--liveness).
// With --socket, CMD gets the port's sockets from descriptor 3 on (a listening TCP socket, a bound
// UDP socket, or both), as from systemd. With --adopt, CMD's binds of those port numbers get the
// held listening socket instead (adoption.hpp).
// A fleet-wide service's port is claimed in etcd too (run_ports.hpp).

#include "common_options.hpp"
#include "description_options.hpp"
#include "run_ports.hpp"

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace portpool::cli {

struct RunArguments {
  CommonOptions common;
  std::string instance = "1";
  bool socket = false;
  std::optional<std::string> adopt;  ///< --adopt PORT[,PORT...]
  std::string adopt_mode;            ///< "preload", "seccomp", "auto", or empty (auto)
  std::string on_lost = "term";
  std::string kill_grace = "5s";
  std::string restart = "no";
  std::string restart_delay = "100ms";
  int max_restarts = -1;  ///< -1: no limit
  std::string ready;      ///< "notify", "accept", or empty
  std::string ready_timeout = "30s";
  std::string wait;                    ///< empty: no wait for an exhausted pool
  bool quiet = false;                  ///< no line saying which port was taken
  std::vector<std::string> templates;  ///< --template SRC:DST
  bool forking = false;                ///< CMD's exit 0 ends its start-up; the service is the tree it leaves
  std::string pid_file;                ///< with forking: the file the daemon writes its main pid to, or empty
  std::string liveness;                ///< "http:PATH", "tcp", or empty
  std::string liveness_interval;       ///< empty: the default
  std::string liveness_start_period;   ///< empty: the default
  std::string liveness_failures;       ///< empty: the default
  DescriptionArguments description;
  FleetRunArguments fleet;
  std::string service;
  std::vector<std::string> command;
};

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments);

/// @returns CMD's exit status (of its last run), or 128 + the signal that killed it; with --forking,
/// after a successful start-up, the main process's (docs/cli.md).
int run_run_command(const RunArguments& arguments);

}  // namespace portpool::cli
