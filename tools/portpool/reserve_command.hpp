#pragma once

// `portpool reserve [--config FILE] [--apply] [--persist]`: the pool ports that fall inside the
// kernel's ephemeral port range, which outgoing connections could take, and (as root) their
// reservation in net.ipv4.ip_local_reserved_ports.

#include "common_options.hpp"

#include <CLI/CLI.hpp>

#include <string>

namespace portpool::cli {

struct ReserveArguments {
  CommonOptions common;
  bool apply = false;
  bool persist = false;
  std::string sysctl_dir = "/etc/sysctl.d";
};

CLI::App* add_reserve_command(CLI::App& app, ReserveArguments& arguments);

int run_reserve_command(const ReserveArguments& arguments);

}  // namespace portpool::cli
