#pragma once

// `portpool table [--instance N]`: the services and their pools for one instance.

#include "common_options.hpp"

#include <CLI/CLI.hpp>

namespace portpool::cli {

struct TableArguments {
  CommonOptions common;
  unsigned instance = 1;
};

CLI::App* add_table_command(CLI::App& app, TableArguments& arguments);

int run_table_command(const TableArguments& arguments);

}  // namespace portpool::cli
