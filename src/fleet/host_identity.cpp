#include <portpool/fleet/host_identity.hpp>

#include <portpool/detail/names.hpp>
#include <portpool/error.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <fstream>

namespace portpool::fleet {
namespace {

std::string first_line(const char* path) {
  std::ifstream file(path);
  std::string line;
  std::getline(file, line);
  return line;
}

}  // namespace

std::string machine_host_id() {
  auto id = first_line("/etc/machine-id");
  if (!portpool::detail::is_valid_name(id)) {
    throw ConfigError(
        "cannot use /etc/machine-id as the host id (it is missing or not a plain id): give one with --host-id");
  }
  return id;
}

std::string boot_id() {
  auto id = first_line("/proc/sys/kernel/random/boot_id");
  return id.size() <= 64 ? id : std::string{};
}

std::string host_name() {
  std::array<char, 256> name{};
  if (::gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') {
    return "localhost";
  }
  return name.data();
}

}  // namespace portpool::fleet
