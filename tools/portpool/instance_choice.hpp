#pragma once

// The instance a command is asked for: `--instance N`, `auto`, `from-env` or `from-env=VAR`.

#include <portpool/service_port_table.hpp>

#include <optional>
#include <string>

namespace portpool::cli {

/// The instance number `text` asks for, checked against the table, or nullopt for `auto` (the
/// lowest free instance, taken by the caller). `from-env` reads the test runner's worker variable
/// (see <portpool/test_runner.hpp>), `from-env=VAR` the variable VAR.
/// @throws UsageError naming what is wrong: not a number, out of range, a variable missing or
///         malformed.
std::optional<unsigned> chosen_instance(const std::string& text, const ServicePortTable& table);

}  // namespace portpool::cli
