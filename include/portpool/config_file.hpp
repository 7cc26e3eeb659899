#pragma once

/// @file
/// Loading a ServicePortTable from a TOML config file (needs toml++: link `portpool::config`).
///
/// The format:
///
/// @code{.toml}
/// [instances]
/// base = 6000        # first port of instance 1
/// stride = 100       # distance between instances
/// max = 10           # highest instance number allowed
///
/// [services.worker]
/// offset = 0         # instance N: base + (N-1)*stride + offset ...
/// size = 3           # ... and the next size-1 ports
///
/// [services.api]
/// ports = [9000, 9001, 9002]   # shared by all instances; or: range = [9000, 9002] (inclusive)
///
/// [services.discovery]
/// range = [5350, 5359]
/// transport = "udp"  # "tcp" (the default), "udp" or "both"
/// @endcode
///
/// `[instances]` and each of its keys are optional (defaults: base 6000, stride 100, max 10). A
/// service has either `offset` and `size`, or `ports`, or `range`; optionally `transport`
/// (`"tcp"`, the default, `"udp"` or `"both"`: `ServicePortTable::set_transport()`), `scope`
/// (`"host"` or `"fleet"`), `allow_fetch_blocked_ports`; and a description of what its holders serve
/// (`ServicePortTable::describe()`): `protocol`, `health`, `version` (strings), `tags` (a list of strings), `meta` (a
/// table of strings). Unknown keys are errors.

#include <portpool/error.hpp>
#include <portpool/impl/config_reader.hpp>
#include <portpool/impl/config_text.hpp>
#include <portpool/service_port_table.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace portpool {

/// Parses and validates a port table from TOML text. `source_name` (usually the file name) starts
/// every error message.
///
/// @throws ConfigError saying `source_name:line:column:`, what is wrong and what is expected, for
/// invalid TOML, an unknown key, a value of the wrong type or out of range, or a service without
/// exactly one kind of pool; and, prefixed with `source_name`, validate()'s errors naming the
/// services whose pools overlap or leave 1..65535.
///
/// @code
/// auto table = portpool::load_table("[services.web]\nrange = [8080, 8081]\n", "inline config");
/// @endcode
inline ServicePortTable load_table(std::string_view toml, const std::string& source_name) {
  return detail::ConfigReader(source_name).read(toml);
}

/// Loads and validates the port table of the TOML file `path`, whose name starts every error
/// message. Reads it on the calling thread; safe to call from several threads at once.
///
/// @throws ConfigError when the file is not a regular file of at most 1 MiB or cannot be read
/// (naming the file and the cause), and as load_table(); ResourceError when descriptors or memory
/// run out.
///
/// @code
/// auto table = portpool::load_table_file("/etc/myapp/ports.toml");
/// portpool::PortPoolManager manager(table, "api");
/// @endcode
inline ServicePortTable load_table_file(const std::filesystem::path& path) {
  return load_table(detail::read_config_text(path.string()), path.string());
}

}  // namespace portpool
