#include "fleet_component.hpp"

#include <signal.h>

namespace portpool::cli {
namespace {

char** command_line = nullptr;
sigset_t start_signal_mask;

}  // namespace

void remember_start(char** argv) {
  command_line = argv;
  ::sigprocmask(SIG_SETMASK, nullptr, &start_signal_mask);
}

char** remembered_command_line() { return command_line; }

void restore_start_signal_mask() { ::sigprocmask(SIG_SETMASK, &start_signal_mask, nullptr); }

}  // namespace portpool::cli
