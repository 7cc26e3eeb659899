#pragma once

// The options every command takes: --config, --lock-dir, --shared-lock-dir and --json.

#include <portpool/options.hpp>
#include <portpool/service_port_table.hpp>

#include <CLI/CLI.hpp>

#include <string>

namespace portpool::cli {

struct CommonOptions {
  std::string config_file;
  std::string lock_dir;
  bool shared_lock_dir = false;
  bool json = false;
};

void add_common_options(CLI::App& command, CommonOptions& options);

/// The table of --config, or the built-in default table; validated.
/// @throws ConfigError when the file cannot be read or is invalid.
ServicePortTable load_port_table(const CommonOptions& options);

/// Library options for --lock-dir (empty: PORTPOOL_LOCK_DIR or the default directory) and
/// --shared-lock-dir.
Options library_options(const CommonOptions& options);

/// @throws UsageError naming the table's services when `service` is not one of them.
void require_service(const ServicePortTable& table, const std::string& service);

/// @throws UsageError when `instance` is outside 1..max of the table.
void require_instance(const ServicePortTable& table, unsigned instance);

}  // namespace portpool::cli
