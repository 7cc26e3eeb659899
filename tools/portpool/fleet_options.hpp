#pragma once

// The options of the commands that talk to etcd (`publish`, `status --fleet`), and the fleet
// commands themselves. Built with the fleet component; without it (fleet_unavailable.cpp) the
// options exist and the commands say that this portpool has no fleet support.

#include "common_options.hpp"

#include <etcd_arguments.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace portpool::cli {

using fleet_command_line::EtcdArguments;

struct FleetStatusArguments {
  bool fleet = false;
  bool watch = false;
  EtcdArguments etcd;
};

struct PublishArguments {
  CommonOptions common;
  EtcdArguments etcd;
  std::string host_id;
  std::string ttl = "10s";
  std::string address;
};

struct FleetInitArguments {
  EtcdArguments etcd;
  std::string host_id;
};

/// `status`'s --fleet, --watch and the etcd options.
void add_fleet_status_options(CLI::App& command, FleetStatusArguments& arguments);

CLI::App* add_publish_command(CLI::App& app, PublishArguments& arguments);

/// Runs until SIGINT or SIGTERM; 0 after a clean stop.
int run_publish_command(const PublishArguments& arguments);

CLI::App* add_fleet_init_command(CLI::App& app, FleetInitArguments& arguments);

/// Creates the fleet's epoch marker where it is absent; 0 either way (it says which).
int run_fleet_init_command(const FleetInitArguments& arguments);

/// `status --fleet [--json] [--watch]`.
int run_fleet_status(const FleetStatusArguments& arguments, bool json);

}  // namespace portpool::cli
