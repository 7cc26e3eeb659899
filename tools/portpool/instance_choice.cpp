#include "instance_choice.hpp"

#include "common_options.hpp"
#include "exit_codes.hpp"

#include <portpool/error.hpp>
#include <portpool/parse_integer.hpp>
#include <portpool/test_runner.hpp>

#include <fmt/format.h>

#include <string_view>

namespace portpool::cli {
namespace {

constexpr std::string_view automatic = "auto";
constexpr std::string_view from_environment = "from-env";

// A missing or malformed variable is a mistake in how the command was started, not in the table.
unsigned instance_in_environment(const std::string& text) {
  try {
    if (text == from_environment) {
      return instance_from_environment();
    }
    return instance_from_environment(text.substr(from_environment.size() + 1));
  } catch (const ConfigError& error) {
    throw UsageError(fmt::format("--instance {}: {}", text, error.what()));
  }
}

bool names_environment(const std::string& text) {
  return text == from_environment ||
         (text.rfind(from_environment, 0) == 0 && text.size() > from_environment.size() + 1 &&
          text[from_environment.size()] == '=');
}

unsigned instance_number(const std::string& text, const ServicePortTable& table) {
  auto number = parse_integer<unsigned>(text);
  if (!number) {
    throw UsageError(
        fmt::format("--instance {} is not an instance: give a number from 1 to {}, auto, from-env, "
                    "from-env=VARIABLE or from-env=VARIABLE+1 (for a variable counting from 0)",
                    text, table.layout().max));
  }
  return *number;
}

}  // namespace

std::optional<unsigned> chosen_instance(const std::string& text, const ServicePortTable& table) {
  if (text == automatic) {
    return std::nullopt;
  }
  if (!names_environment(text)) {
    auto number = instance_number(text, table);
    require_instance(table, number);
    return number;
  }
  auto number = instance_in_environment(text);
  try {
    require_instance(table, number);
  } catch (const UsageError& error) {
    throw UsageError(fmt::format("--instance {}: {}", text, error.what()));
  }
  return number;
}

}  // namespace portpool::cli
