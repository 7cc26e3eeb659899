#pragma once

// `portpool lease [--instance N|auto|from-env[=VAR]] [--transport tcp|udp|both] [--socket-path PATH]
//                 [--wait D] SERVICE`:
// takes a port of SERVICE's pool (waiting up to --wait for one to be released), prints it as one
// JSON line and holds it until standard input ends, the parent dies or SIGTERM arrives. The building
// block of the Node.js and Python packages.

#include "common_options.hpp"
#include "description_options.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace portpool::cli {

struct LeaseArguments {
  CommonOptions common;
  DescriptionArguments description;
  std::string instance = "1";
  std::string socket_path;
  int parent_pid = 0;
  std::string wait;  ///< empty: no wait for an exhausted pool
  std::string service;
};

CLI::App* add_lease_command(CLI::App& app, LeaseArguments& arguments);

/// @returns 0 once the lease ended and everything was released.
int run_lease_command(const LeaseArguments& arguments);

}  // namespace portpool::cli
