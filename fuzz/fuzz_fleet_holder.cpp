// Fuzzes the fleet record decoder: keys and values come from etcd, which every agent of the fleet
// can write to, so every byte sequence must be rejected or decoded, never crash, and what is
// decoded must survive being encoded and decoded again unchanged. Input: the key, a newline, the
// value.

#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/fleet_holder.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto newline = input.find('\n');
  if (newline == std::string::npos) {
    return 0;
  }
  auto key = input.substr(0, newline);
  auto value = input.substr(newline + 1);
  const std::string prefix = portpool::fleet::default_prefix;
  portpool::fleet::FleetHolder decoded;
  try {
    decoded = portpool::fleet::decode_holder(prefix, key, value);
  } catch (const portpool::fleet::InvalidFleetRecord&) {
    return 0;
  }
  auto again = portpool::fleet::decode_holder(prefix, portpool::fleet::port_key(prefix, decoded.host, decoded.port),
                                              portpool::fleet::encode_holder(decoded));
  if (again != decoded) {
    std::abort();
  }
  return 0;
}
