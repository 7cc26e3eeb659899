// A C++20 program built against the installed portpool through pkg-config: the package's flags
// must leave the language standard to the consumer (std::span needs C++20).
#include <portpool/portpool.hpp>

#include <cstdint>
#include <exception>
#include <iostream>
#include <span>

static_assert(__cplusplus >= 202002L, "built as C++20");

int main() try {
  auto table =
      portpool::ServicePortTable(portpool::InstanceLayout{6000, 100, 10}).add_instance_pool("mcp-universal", 0, 3);
  auto pool = table.pool_for("mcp-universal", 1);
  std::span<const std::uint16_t> ports(pool);
  std::cout << "C++20 consumer: mcp-universal instance 1 has " << ports.size() << " ports from " << ports.front()
            << '\n';
  return ports.size() == 3 && ports.front() == 6000 ? 0 : 1;
} catch (const std::exception& error) {
  std::cerr << "C++20 consumer: " << error.what() << '\n';
  return 1;
}
