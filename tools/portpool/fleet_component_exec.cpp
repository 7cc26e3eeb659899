// run_in_fleet_component() where the fleet component is built: portpool-fleet, found beside
// portpool or where it is installed.

#include "companion_files.hpp"
#include "exit_codes.hpp"
#include "fleet_component.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace portpool::cli {

void run_in_fleet_component() {
  auto component = find_companion(PORTPOOL_FLEET_COMPONENT_NAME);
  if (!component) {
    auto candidates = companion_candidates(PORTPOOL_FLEET_COMPONENT_NAME);
    throw CommandError(fmt::format("this command talks to etcd, which portpool does through its fleet component {}, "
                                   "and that is neither at {} nor at {}: it is installed with the portpool command "
                                   "(reinstall it)",
                                   PORTPOOL_FLEET_COMPONENT_NAME, candidates[0].string(), candidates[1].string()),
                       exit_code::etcd_unavailable);
  }
  restore_start_signal_mask();
  ::execv(component->c_str(), remembered_command_line());
  throw CommandError(
      fmt::format("cannot run portpool's fleet component {}: {}", component->string(), std::strerror(errno)),
      exit_code::etcd_unavailable);
}

}  // namespace portpool::cli
