#pragma once

// The port table of an example application (the one of examples/qwen-valencia.toml), built in
// code, for the tests that need a realistic table without toml++: four instance-relative pools
// from base 6000 with stride 100 for instances 1 to 10, and two shared pools. Port 6000, instance
// 1's first mcp-universal port, is one that browsers and fetch() refuse.

#include <portpool/service_port_table.hpp>

namespace portpool::test {

inline ServicePortTable example_application_table() {
  ServicePortTable table(InstanceLayout{6000, 100, 10});
  table.add_instance_pool("mcp-universal", 0, 3)
      .add_instance_pool("ollama-mcp", 10, 3)
      .add_instance_pool("groq-api", 20, 3)
      .add_instance_pool("sandra-ia", 30, 4)
      .add_shared_range("conversational", 7000, 7004)
      .add_shared_range("api-server", 9000, 9002);
  return table;
}

}  // namespace portpool::test
