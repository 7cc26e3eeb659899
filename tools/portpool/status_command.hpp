#pragma once

// `portpool status`: who holds which port now.

#include "common_options.hpp"

#include <CLI/CLI.hpp>

namespace portpool::cli {

struct StatusArguments {
  CommonOptions common;
  bool watch = false;
};

CLI::App* add_status_command(CLI::App& app, StatusArguments& arguments);

int run_status_command(const StatusArguments& arguments);

}  // namespace portpool::cli
