// pool_tour: one copy of an example application (the table of qwen-valencia.toml, compiled in)
// takes an instance number and one port for each of its services, shows who holds what on this
// machine, and gives everything back.
//
// Run several at once and each gets its own instance number and its own ports.

#include <example_table.hpp>
#include <portpool/portpool.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <exception>
#include <vector>

namespace {

void print_holders(const portpool::Options& options) {
  auto holders = portpool::Registry::holders(options);
  fmt::print("{} port(s) held in {}\n", holders.size(), portpool::resolve_lock_dir(options.lock_dir).string());
  for (const auto& holder : holders) {
    fmt::print("  {:>5}  {:<16} pid {:<7} instance {}  since {:%H:%M:%S}\n", holder.port, holder.service, holder.pid,
               holder.instance, fmt::localtime(std::chrono::system_clock::to_time_t(holder.since)));
  }
}

}  // namespace

int main() try {
  auto table = portpool::example_table::load();
  portpool::Options options;  // the default lock directory; PORTPOOL_LOCK_DIR overrides it

  auto instance = portpool::InstanceManager::acquire(options, table.layout().max);
  options.instance = instance.number();
  options.instance_id = instance.id();
  fmt::print("this copy is instance {} ({})\n", instance.number(), instance.id());

  std::vector<portpool::PortLease> leases;
  for (const auto& service : table.services()) {
    portpool::PortPoolManager manager(table, service, options);
    try {
      leases.push_back(manager.acquire());
      fmt::print("{:<16} pool {:<26} -> port {}\n", service,
                 fmt::format("{}", fmt::join(table.pool_for(service, options.instance), ",")), leases.back().port());
    } catch (const portpool::PoolExhausted& error) {
      fmt::print("{:<16} no port: {}\n", service, error.what());
    }
  }

  print_holders(options);
  leases.clear();
  instance.release();
  fmt::print("released everything\n");
  print_holders(options);
  return 0;
} catch (const std::exception& error) {
  fmt::print(stderr, "pool_tour: {}\n", error.what());
  return 1;
}
