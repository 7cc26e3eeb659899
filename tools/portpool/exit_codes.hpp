#pragma once

// The exit codes of the portpool command (the sysexits.h values, and the shell's 126/127 for a
// command that cannot be run), and the errors that map to the codes the library has no exception for.

#include <stdexcept>
#include <string>

namespace portpool::cli {

namespace exit_code {
inline constexpr int success = 0;
inline constexpr int usage = 64;
inline constexpr int etcd_unavailable = 69;
inline constexpr int system_failure = 71;
inline constexpr int pool_exhausted = 75;
inline constexpr int etcd_refused = 76;
inline constexpr int unsafe_lock_dir = 77;
inline constexpr int not_permitted = 77;  // `reserve --apply` without root
inline constexpr int bad_config = 78;
inline constexpr int command_not_executable = 126;
inline constexpr int command_not_found = 127;
}  // namespace exit_code

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
