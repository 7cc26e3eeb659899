// A program built against the installed portpool package.
#include <portpool/portpool.hpp>

#include <exception>
#include <iostream>

int main() try {
  auto table = portpool::ServicePortTable(portpool::InstanceLayout{6000, 100, 10})
                   .add_instance_pool("worker", 0, 3)
                   .add_shared_range("api-server", 9000, 9002);
  table.validate();
  auto pool = table.pool_for("api-server", 2);
  std::cout << "portpool " << PORTPOOL_VERSION_MAJOR << '.' << PORTPOOL_VERSION_MINOR << ": api-server pool of "
            << "instance 2 starts at " << pool.front() << '\n';
  return pool.front() == 9000 ? 0 : 1;
} catch (const std::exception& error) {
  std::cerr << "consumer: " << error.what() << '\n';
  return 1;
}
