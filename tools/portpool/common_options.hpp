#pragma once

// The options every command takes: --config, --lock-dir, --shared-lock-dir and --json.

#include <portpool/options.hpp>
#include <portpool/service_port_table.hpp>

#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace portpool::cli {

struct CommonOptions {
  std::string config_file;
  std::string lock_dir;
  bool shared_lock_dir = false;
  bool json = false;
};

void add_common_options(CLI::App& command, CommonOptions& options);

/// The config file the command uses, the first of: --config FILE, $PORTPOOL_CONFIG,
/// ./portpool.toml, $XDG_CONFIG_HOME/portpool/config.toml (~/.config/portpool/config.toml when
/// XDG_CONFIG_HOME is unset or empty), /etc/portpool/config.toml. The last three count when they
/// exist (a dangling link too, so that it is reported); nullopt when none does: the built-in
/// example table. An empty $PORTPOOL_CONFIG counts as unset.
/// @throws ConfigError when $PORTPOOL_CONFIG names a file that does not exist (a missing --config
/// file is reported when it is read).
std::optional<std::filesystem::path> find_config_file(const CommonOptions& options);

/// Whether a config file is named explicitly: --config FILE or a non-empty $PORTPOOL_CONFIG.
bool names_config_file(const CommonOptions& options);

/// The table of `config_file`, or the built-in example table for nullopt; validated.
/// @throws ConfigError naming the file when it cannot be read or is invalid.
ServicePortTable load_port_table(const std::optional<std::filesystem::path>& config_file);

/// The table of find_config_file(options); validated.
/// @throws ConfigError as find_config_file() and load_port_table().
ServicePortTable load_port_table(const CommonOptions& options);

/// Library options for --lock-dir (empty: PORTPOOL_LOCK_DIR or the default directory) and
/// --shared-lock-dir.
Options library_options(const CommonOptions& options);

/// @throws UsageError naming the table's services when `service` is not one of them.
void require_service(const ServicePortTable& table, const std::string& service);

/// @throws UsageError when `instance` is outside 1..max of the table.
void require_instance(const ServicePortTable& table, unsigned instance);

}  // namespace portpool::cli
