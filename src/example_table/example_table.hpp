#pragma once

// The example application's port table (examples/qwen-valencia.toml), compiled in: what the
// portpool command and the example services use when no config file is given.

#include <portpool/service_port_table.hpp>

#include <string_view>

namespace portpool::example_table {

/// How messages name the compiled-in table.
inline constexpr std::string_view name = "the built-in example table";

/// The TOML text of examples/qwen-valencia.toml, as it was when the program was built.
std::string_view toml_text();

/// The example table, loaded from toml_text() and validated.
/// @throws ConfigError only if the embedded file is invalid, which the tests rule out.
ServicePortTable load();

}  // namespace portpool::example_table
