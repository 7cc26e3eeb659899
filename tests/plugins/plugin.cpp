// A plugin that takes and gives back one port with its own copy of portpool (see CMakeLists.txt).

#include <portpool/port_pool_manager.hpp>

#include <cstdint>
#include <optional>

namespace {

std::optional<portpool::PortLease> held;

}  // namespace

/// Takes `port` through the lock directory `lock_dir`: 1 when taken, 0 when refused.
extern "C" __attribute__((visibility("default"))) int plugin_acquire(const char* lock_dir, unsigned port) {
  portpool::Options options;
  options.lock_dir = lock_dir;
  portpool::PortPoolManager manager("plugin", {static_cast<std::uint16_t>(port)}, options);
  auto lease = manager.try_acquire();
  if (!lease) {
    return 0;
  }
  held = std::move(lease);
  return 1;
}

/// Gives the port back (nothing when none is held).
extern "C" __attribute__((visibility("default"))) void plugin_release() { held.reset(); }
