#pragma once

// Starting portpool_test_holder processes (see holder_main.cpp).

#include "process.hpp"
#include "temp_dir.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace portpool::test {

inline std::string join_ports(const std::vector<std::uint16_t>& ports) {
  std::string text;
  for (auto port : ports) {
    text += (text.empty() ? "" : ",") + std::to_string(port);
  }
  return text;
}

inline ChildProcess spawn_port_holder(const std::filesystem::path& lock_dir, const std::string& service,
                                      const std::vector<std::uint16_t>& ports, unsigned instance = 1) {
  return ChildProcess::spawn(
      {PORTPOOL_TEST_HOLDER, "port", lock_dir.string(), service, join_ports(ports), std::to_string(instance)});
}

inline ChildProcess spawn_instance_holder(const std::filesystem::path& lock_dir, unsigned max) {
  return ChildProcess::spawn({PORTPOOL_TEST_HOLDER, "instance", lock_dir.string(), std::to_string(max)});
}

/// The port (or instance number) a holder reports, or -1 for EXHAUSTED or no answer.
inline int acquired_by(ChildProcess& holder) {
  auto line = holder.read_line();
  if (!line || line->rfind("ACQUIRED ", 0) != 0) {
    return -1;
  }
  return std::stoi(line->substr(9));
}

/// Whether another process could take `port` in the test's lock directory right now.
inline bool free_for_another_process(const TempDir& directory, std::uint16_t port) {
  auto probe = spawn_port_holder(directory.lock_dir(), "probe", {port});
  return acquired_by(probe) == port;
}

}  // namespace portpool::test
