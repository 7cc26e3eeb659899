#include "common_options.hpp"

#include "exit_codes.hpp"

#include <example_table.hpp>
#include <portpool/config_file.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>

namespace portpool::cli {

namespace {

std::string environment_variable(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

// A file that cannot be examined (a directory on the way is not searchable) counts as found, so
// that reading it names the problem instead of another file being used silently.
bool config_file_present(const std::filesystem::path& path) {
  std::error_code error;
  auto status = std::filesystem::symlink_status(path, error);
  return status.type() != std::filesystem::file_type::not_found;
}

std::optional<std::filesystem::path> user_config_file() {
  auto config_home = environment_variable("XDG_CONFIG_HOME");
  if (!config_home.empty()) {
    return std::filesystem::path(config_home) / "portpool" / "config.toml";
  }
  auto home = environment_variable("HOME");
  if (!home.empty()) {
    return std::filesystem::path(home) / ".config" / "portpool" / "config.toml";
  }
  return std::nullopt;
}

}  // namespace

void add_common_options(CLI::App& command, CommonOptions& options) {
  command
      .add_option("--config", options.config_file,
                  "TOML file with the port table (default: $PORTPOOL_CONFIG, else the first that exists of "
                  "./portpool.toml, $XDG_CONFIG_HOME/portpool/config.toml (~/.config/portpool/config.toml), "
                  "/etc/portpool/config.toml, else the built-in example table)")
      ->type_name("FILE");
  command
      .add_option("--lock-dir", options.lock_dir, "lock directory (default: $PORTPOOL_LOCK_DIR, else a private one)")
      ->type_name("DIR")
      ->check(
          [](const std::string& value) {
            return value.empty() ? std::string("is empty: name a directory, or leave the option out for the default")
                                 : std::string();
          },
          "DIR");
  command.add_flag("--shared-lock-dir", options.shared_lock_dir,
                   "the lock directory is shared on purpose by several users (group-writable or another user's): "
                   "exclusive across them, and every one of them can hold or block the others' ports");
  command.add_flag("--json", options.json, "print the result as JSON");
}

std::optional<std::filesystem::path> find_config_file(const CommonOptions& options) {
  if (!options.config_file.empty()) {
    return std::filesystem::path(options.config_file);
  }
  auto named = environment_variable("PORTPOOL_CONFIG");
  if (!named.empty()) {
    if (!config_file_present(named)) {
      throw ConfigError(fmt::format(
          "PORTPOOL_CONFIG names the config file {}, which does not exist: set it to the path of a TOML port table, "
          "or unset it to let portpool look for ./portpool.toml, ~/.config/portpool/config.toml and "
          "/etc/portpool/config.toml",
          named));
    }
    return std::filesystem::path(named);
  }
  std::error_code error;
  auto working_directory = std::filesystem::current_path(error);
  if (!error && config_file_present(working_directory / "portpool.toml")) {
    return working_directory / "portpool.toml";
  }
  if (auto user_file = user_config_file(); user_file && config_file_present(*user_file)) {
    return user_file;
  }
  if (std::filesystem::path system_file = "/etc/portpool/config.toml"; config_file_present(system_file)) {
    return system_file;
  }
  return std::nullopt;
}

bool names_config_file(const CommonOptions& options) {
  return !options.config_file.empty() || !environment_variable("PORTPOOL_CONFIG").empty();
}

ServicePortTable load_port_table(const std::optional<std::filesystem::path>& config_file) {
  if (config_file) {
    return load_table_file(*config_file);  // a regular file of at most 1 MiB
  }
  return example_table::load();
}

ServicePortTable load_port_table(const CommonOptions& options) { return load_port_table(find_config_file(options)); }

Options library_options(const CommonOptions& options) {
  Options library;
  library.lock_dir = options.lock_dir;
  library.shared_lock_dir = options.shared_lock_dir;
  return library;
}

void require_service(const ServicePortTable& table, const std::string& service) {
  auto names = table.services();
  if (std::find(names.begin(), names.end(), service) == names.end()) {
    throw UsageError(fmt::format("unknown service '{}': the table has {}", service, fmt::join(names, ", ")));
  }
}

void require_instance(const ServicePortTable& table, unsigned instance) {
  if (instance == 0 || instance > table.layout().max) {
    throw UsageError(
        fmt::format("instance {} is out of range: the table allows instances 1 to {}", instance, table.layout().max));
  }
}

}  // namespace portpool::cli
