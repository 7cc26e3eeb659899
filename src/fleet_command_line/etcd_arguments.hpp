#pragma once

// The etcd options of every program that talks to the fleet's etcd (`portpool publish`,
// `portpool status --fleet`, `portpool run` of a fleet service, the example services):
//
//   --etcd URL[,URL...] [--prefix PREFIX] [--cacert FILE] [--cert FILE] [--key FILE]
//   [--user NAME] [--password PASSWORD]   ($PORTPOOL_ETCD_PASSWORD by default)

#include <portpool/fleet/etcd_options.hpp>

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace portpool::fleet_command_line {

struct EtcdArguments {
  std::vector<std::string> endpoints;
  std::string prefix = "/portpool/v1";
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string user;
  std::string password;
};

/// Adds --etcd, --prefix, --cacert, --cert, --key, --user and --password to `command`.
void add_etcd_options(CLI::App& command, EtcdArguments& arguments);

/// The connection settings the arguments give. The prefix is not checked here: the fleet layer's
/// entry points check it (fleet::require_valid_prefix).
fleet::EtcdOptions etcd_options_of(const EtcdArguments& arguments);

}  // namespace portpool::fleet_command_line
