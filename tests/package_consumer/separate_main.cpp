// A program built against the installed portpool package with separate compilation: this unit
// sees the core's declarations, separate_unit.cpp compiles their bodies.
#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include <unistd.h>

#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

int main() try {
  portpool::Options options;
  options.lock_dir = std::filesystem::temp_directory_path() / ("portpool-consumer-" + std::to_string(::getpid()));
  options.probe_address = portpool::IpAddress::from_string("127.0.0.1");
  bool named = false;
  {
    portpool::PortPoolManager manager("api-server", {9000, 9001, 9002}, options);
    auto holders = portpool::Registry::holders(options);  // none: nothing is acquired here
    named = holders.empty() && manager.pool().size() == 3;
  }
  std::filesystem::remove_all(options.lock_dir);
  std::cout << "portpool, separately compiled: a manager of 3 ports, " << options.probe_address.to_string() << '\n';
  return named ? 0 : 1;
} catch (const std::exception& error) {
  std::cerr << "separate_consumer: " << error.what() << '\n';
  return 1;
}
