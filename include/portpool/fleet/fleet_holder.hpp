#pragma once

/// @file
/// FleetHolder and the key layout: how one host's holders are written into etcd.
///
/// Keys (PREFIX defaults to `/portpool/v1`):
///
///     PREFIX/hosts/HOST/ports/PORT   one per held port, attached to its agent's lease
///     PREFIX/claims/PORT             the fleet-wide claim of a port of a fleet-exclusive pool
///
/// A port key's value is a JSON object with exactly the keys `service`, `instance`,
/// `instance_id`, `pid`, `since` (ISO 8601 UTC), `address` (HOST:PORT to reach the service),
/// `boot_id` (the host's boot) and `readiness`, and `transport` ("udp" or "both") when the port is
/// not held for TCP alone: a TCP holder's value is the one readers before transports accept, and a
/// value without `transport` is a TCP holder's. Values read back are untrusted: decode_holder()
/// accepts only that schema, bounded in size.

#include <portpool/holder.hpp>
#include <portpool/transport.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace portpool::fleet {

/// The default key prefix.
inline constexpr const char* default_prefix = "/portpool/v1";

/// The largest value the fleet layer writes or accepts, in bytes.
inline constexpr std::size_t max_value_size = 2048;

/// One holder of one host, as published in etcd.
struct FleetHolder {
  std::string host;                             ///< the host's id (`--host-id`, or its host name)
  std::uint16_t port = 0;                       ///< the held port
  std::string service;                          ///< the service the port was taken for
  unsigned instance = 0;                        ///< the holder's instance number
  std::string instance_id;                      ///< the holder's running copy
  std::int64_t pid = 0;                         ///< the holder's process id, on its host
  std::chrono::system_clock::time_point since;  ///< when the port was taken
  std::string address;                          ///< where clients reach the host
  std::string boot_id;                          ///< the host's boot, to tell a reboot from a restart
  Readiness readiness = Readiness::unknown;     ///< what the holder says of its service
  Transport transport = Transport::tcp;         ///< which socket types the port is held for
};

/// Whether two holders are the same in every field.
bool operator==(const FleetHolder& a, const FleetHolder& b);
/// Whether two holders differ in a field.
inline bool operator!=(const FleetHolder& a, const FleetHolder& b) { return !(a == b); }

/// @throws ConfigError unless `prefix` starts with '/', does not end with '/', and has 1 to 128
/// letters, digits or `/-_.`.
void require_valid_prefix(const std::string& prefix);

/// @throws ConfigError unless `host` has 1 to 64 letters, digits, '-', '_' or '.' (not first).
void require_valid_host_id(const std::string& host);

/// `PREFIX/hosts/`: every host's keys.
std::string hosts_prefix(const std::string& prefix);

/// `PREFIX/hosts/HOST/ports/`: one host's keys.
std::string host_ports_prefix(const std::string& prefix, const std::string& host);

/// `PREFIX/hosts/HOST/ports/PORT`.
std::string port_key(const std::string& prefix, const std::string& host, std::uint16_t port);

/// `PREFIX/claims/PORT`.
std::string claim_key(const std::string& prefix, std::uint16_t port);

/// `PREFIX/epoch`: the fleet's epoch marker, created once per cluster (see fleet::initialize_fleet).
std::string epoch_key(const std::string& prefix);

/// `PREFIX/epoch-settling`: present, on a lease of one claims TTL plus the stop margin, while the
/// claims of a new or wiped cluster do not count yet. A range of epoch_key() reads both keys.
std::string epoch_settling_key(const std::string& prefix);

/// The host and port of a port key, or nullopt when `key` is not one (under `prefix`).
std::optional<std::pair<std::string, std::uint16_t>> parse_port_key(const std::string& prefix, const std::string& key);

/// The JSON value of a port key (host and port are in the key, not in the value).
std::string encode_holder(const FleetHolder& holder);

/// The holder that a port key and its value describe.
/// @throws InvalidFleetRecord saying what is wrong when the key or the value does not follow the
/// layout and schema (too large, not JSON, a missing, extra or out-of-range field).
FleetHolder decode_holder(const std::string& prefix, const std::string& key, const std::string& value);

/// The local holder as a fleet holder of `host`, reachable at `address_host`:PORT.
FleetHolder fleet_holder_of(const Holder& holder, const std::string& host, const std::string& address_host,
                            const std::string& boot_id);

/// "2024-05-01T10:00:00.123Z".
std::string iso8601_utc(std::chrono::system_clock::time_point time);

}  // namespace portpool::fleet
