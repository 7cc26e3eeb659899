#include "common_options.hpp"

#include "exit_codes.hpp"

#include <portpool/config_file.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace portpool::cli {

void add_common_options(CLI::App& command, CommonOptions& options) {
  command.add_option("--config", options.config_file, "TOML file with the port table (default: the built-in table)")
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

ServicePortTable load_port_table(const CommonOptions& options) {
  if (!options.config_file.empty()) {
    return ServicePortTable::from_file(options.config_file);  // a regular file of at most 1 MiB
  }
  auto table = ServicePortTable::defaults();
  table.validate();
  return table;
}

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
