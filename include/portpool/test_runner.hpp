#pragma once

/// @file
/// instance_from_environment(): the instance number of a test-runner worker, so that the workers
/// of one parallel test run get disjoint, stable pools.

#include <portpool/detail/parse_number.hpp>
#include <portpool/detail/printable_text.hpp>
#include <portpool/error.hpp>

#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace portpool {

/// A variable through which a test runner numbers its workers, and how its value maps to an
/// instance number.
struct WorkerVariable {
  std::string_view name;      ///< the environment variable
  std::string_view prefix;    ///< text before the number ("gw" for pytest-xdist), or empty
  unsigned first_worker = 1;  ///< the number of the runner's first worker: 0 or 1
};

/// The variables instance_from_environment() reads, in the order it reads them.
inline constexpr std::array<WorkerVariable, 6> worker_variables{{
    {"PYTEST_XDIST_WORKER", "gw", 0},     // pytest-xdist: gw0, gw1, ...
    {"JEST_WORKER_ID", "", 1},            // Jest: 1, 2, ...
    {"VITEST_POOL_ID", "", 1},            // Vitest: 1, 2, ...
    {"TEST_PARALLEL_INDEX", "", 0},       // Playwright: 0, 1, ...
    {"MOCHA_WORKER_ID", "", 0},           // mocha --parallel: 0, 1, ...
    {"NEXTEST_TEST_GLOBAL_SLOT", "", 0},  // cargo-nextest: 0, 1, ...
}};

namespace detail {

inline const WorkerVariable* known_worker_variable(std::string_view name) {
  for (const auto& variable : worker_variables) {
    if (variable.name == name) {
      return &variable;
    }
  }
  return nullptr;
}

inline std::optional<std::string> environment_value(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

// The worker number of `value` as `variable` writes it, turned into an instance number (1-based).
inline std::optional<unsigned> parse_worker(const WorkerVariable& variable, std::string_view value) {
  if (value.substr(0, variable.prefix.size()) != variable.prefix) {
    return std::nullopt;
  }
  value.remove_prefix(variable.prefix.size());
  auto number = parse_integer<unsigned>(value);
  if (!number || *number == std::numeric_limits<unsigned>::max()) {
    return std::nullopt;
  }
  auto instance = *number + (1 - variable.first_worker);
  return instance == 0 ? std::nullopt : std::optional<unsigned>(instance);
}

// "VAR+1" names VAR counted from 0 (instance = value + 1), "VAR+0" names VAR counted from 1.
inline std::optional<WorkerVariable> variable_with_base(std::string_view name) {
  constexpr std::size_t suffix_size = 2;
  if (name.size() <= suffix_size || name[name.size() - suffix_size] != '+') {
    return std::nullopt;
  }
  const auto base = name.back();
  if (base != '0' && base != '1') {
    return std::nullopt;
  }
  return WorkerVariable{name.substr(0, name.size() - suffix_size), "", base == '1' ? 0U : 1U};
}

inline std::string expected_form(const WorkerVariable& variable) {
  return variable.prefix.empty()
             ? fmt::format("a number from {}", variable.first_worker)
             : fmt::format("'{}' followed by a number from {}", variable.prefix, variable.first_worker);
}

}  // namespace detail

/// The instance number held by the environment variable `name`: for one of the test runners'
/// variables (see above) mapped as the runner numbers its workers, for any other variable the
/// instance number itself (1, 2, ...). `name` may end in `+1` for a variable that counts from 0
/// (`"SLOT+1"`: instance = value + 1), or in `+0` for one that counts from 1.
///
/// @code
/// options.instance = portpool::instance_from_environment("CI_NODE_INDEX+1");  // 0, 1, ... -> 1, 2, ...
/// @endcode
/// @throws ConfigError naming the variable when it is not set or its value is malformed.
inline unsigned instance_from_environment(const std::string& name) {
  const auto with_base = detail::variable_with_base(name);
  const auto* known = detail::known_worker_variable(name);
  const WorkerVariable instance_number{name, "", 1};
  const auto& variable = with_base ? *with_base : known != nullptr ? *known : instance_number;
  auto value = detail::environment_value(variable.name);
  if (!value) {
    throw ConfigError(fmt::format("the environment variable {} is not set: it should hold the instance number",
                                  detail::printable_text(variable.name)));
  }
  if (auto instance = detail::parse_worker(variable, *value)) {
    return *instance;
  }
  throw ConfigError(fmt::format("the environment variable {} is '{}', not an instance number: expected {}",
                                detail::printable_text(variable.name), detail::printable_text(*value),
                                detail::expected_form(variable)));
}

/// The instance number (1-based) of this test-runner worker, from the first of these variables
/// that is set: `PYTEST_XDIST_WORKER` (`gwN` gives N+1), `JEST_WORKER_ID` and `VITEST_POOL_ID`
/// (N), Playwright's `TEST_PARALLEL_INDEX`, mocha's `MOCHA_WORKER_ID` and cargo-nextest's
/// `NEXTEST_TEST_GLOBAL_SLOT` (N+1).
///
/// @code
/// portpool::Options options;
/// options.instance = portpool::instance_from_environment();
/// @endcode
/// @throws ConfigError naming the variables when none is set, or naming the variable and the
///         expected form when its value is malformed.
inline unsigned instance_from_environment() {
  for (const auto& variable : worker_variables) {
    if (detail::environment_value(variable.name)) {
      return instance_from_environment(std::string(variable.name));
    }
  }
  throw ConfigError(
      "no test-runner worker variable is set (PYTEST_XDIST_WORKER, JEST_WORKER_ID, VITEST_POOL_ID, "
      "TEST_PARALLEL_INDEX, MOCHA_WORKER_ID, NEXTEST_TEST_GLOBAL_SLOT): run under a parallel test runner, or name "
      "the variable that holds the instance number (VAR, or VAR+1 when it counts from 0)");
}

}  // namespace portpool
