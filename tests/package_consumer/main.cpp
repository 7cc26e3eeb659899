// A program built against the installed portpool package.
#include <portpool/portpool.hpp>

#include <iostream>

int main() {
  auto table = portpool::ServicePortTable::defaults();
  auto pool = table.pool_for("api-server", 2);
  std::cout << "portpool " << PORTPOOL_VERSION_MAJOR << '.' << PORTPOOL_VERSION_MINOR << ": api-server pool of "
            << "instance 2 starts at " << pool.front() << '\n';
  return pool.front() == 9000 ? 0 : 1;
}
