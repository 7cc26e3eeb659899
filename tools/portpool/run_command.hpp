#pragma once

// `portpool run [--instance N|auto] [--transport tcp|udp|both] [--socket] [--on-lost term|warn]
//               [--kill-grace D] [--restart no|on-failure|always] [--restart-delay D] [--max-restarts N]
//               [--ready notify|accept] [--ready-timeout D] [--wait D] [--etcd URL[,URL...] ...]
//               SERVICE -- CMD...`:
// takes a port of SERVICE's pool (waiting up to --wait for one to be released), runs CMD's process
// tree with it, holds it until the tree is gone. With --socket, CMD gets the port's sockets from
// descriptor 3 on (a listening TCP socket, a bound UDP socket, or both), as from systemd.
// A fleet-wide service's port is claimed in etcd too (run_ports.hpp).

#include "common_options.hpp"
#include "description_options.hpp"
#include "run_ports.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace portpool::cli {

struct RunArguments {
  CommonOptions common;
  std::string instance = "1";
  bool socket = false;
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
  DescriptionArguments description;
  FleetRunArguments fleet;
  std::string service;
  std::vector<std::string> command;
};

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments);

/// @returns CMD's exit status (of its last run), or 128 + the signal that killed it.
int run_run_command(const RunArguments& arguments);

}  // namespace portpool::cli
