#pragma once

// The errors of the command line and of CMD that map to the exit codes (<portpool/exit_codes.hpp>)
// the library has no exception for.

#include <portpool/exit_codes.hpp>

#include <stdexcept>
#include <string>

namespace portpool::cli {

/// The command line is wrong: a missing or unexpected argument, an unknown service, an instance
/// outside the table.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The CMD given to `run` cannot be started.
class CommandError : public std::runtime_error {
 public:
  CommandError(const std::string& message, int exit_code) : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace portpool::cli
