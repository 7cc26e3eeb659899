#pragma once

// `portpool run [--instance N|auto] [--socket] [--on-lost term|warn] SERVICE -- CMD [ARGS...]`:
// takes a port of SERVICE's pool, runs CMD with it, holds it until CMD ends.

#include "common_options.hpp"
#include "description_options.hpp"

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace portpool::cli {

struct RunArguments {
  CommonOptions common;
  std::string instance = "1";
  bool socket = false;
  std::string on_lost = "term";
  DescriptionArguments description;
  std::string service;
  std::vector<std::string> command;
};

CLI::App* add_run_command(CLI::App& app, RunArguments& arguments);

/// @returns CMD's exit status, or 128 + the signal that killed it.
int run_run_command(const RunArguments& arguments);

}  // namespace portpool::cli
