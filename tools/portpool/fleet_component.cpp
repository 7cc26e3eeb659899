#include "fleet_component.hpp"

namespace portpool::cli {
namespace {

char** command_line = nullptr;

}  // namespace

void remember_command_line(char** argv) { command_line = argv; }

char** remembered_command_line() { return command_line; }

}  // namespace portpool::cli
