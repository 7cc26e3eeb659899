#pragma once

/// @file
/// Fleet-exclusive pools: a lock policy that makes each port of a pool held by at most one holder
/// across every host that shares an etcd.

#include <portpool/fleet/etcd_options.hpp>
#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/holder.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/options.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/probe.hpp>
#include <portpool/service_port_table.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace portpool::fleet {

/// Settings of a FleetClaims session.
struct FleetClaimsOptions {
  EtcdOptions etcd;                     ///< how to reach etcd
  std::string host_id;                  ///< empty: /etc/machine-id
  std::string prefix = default_prefix;  ///< the key prefix shared by the fleet's hosts
  std::chrono::seconds ttl{10};         ///< claims vanish this long after this process dies or loses etcd

  /// Called (on the session's own thread) when etcd lost the session's lease: every claim is gone
  /// and other hosts may take the ports. Must not throw.
  std::function<void(const std::string&)> on_lost;
};

/// One process's session of fleet-wide claims: `PREFIX/claims/PORT` keys, created only where
/// absent (a transaction on `create_revision == 0`) and attached to one lease that a background
/// thread keeps alive. Shared by the FleetLockPolicy of every manager of the process.
///
/// Thread safety: every member may be called from any thread.
class FleetClaims {
 public:
  /// Checks the options; contacts etcd on the first claim.
  /// @throws ConfigError on invalid options.
  explicit FleetClaims(FleetClaimsOptions options);
  ~FleetClaims();
  FleetClaims(const FleetClaims&) = delete;
  FleetClaims& operator=(const FleetClaims&) = delete;
  FleetClaims(FleetClaims&&) = delete;
  FleetClaims& operator=(FleetClaims&&) = delete;

  /// Claims `holder.port` for this host; the claim's revision, or nullopt with `refusal` saying
  /// who has it.
  /// @throws EtcdUnavailable when etcd cannot be reached, EtcdError when it refuses.
  std::optional<std::int64_t> claim(const Holder& holder, std::string& refusal);

  /// Gives back a claim (compare-and-swap on its revision, so a successor's claim is never
  /// removed). Never throws: a claim that cannot be deleted vanishes with the session's lease.
  void release(std::uint16_t port, std::int64_t revision) noexcept;

  /// The host id the claims are made under.
  const std::string& host_id() const noexcept;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

/// The lock policy of fleet-exclusive pools: the port is claimed fleet-wide in etcd first, then
/// locked locally exactly as by FileLockPolicy; on release the local lock is dropped first and
/// the claim given back after it. The local lock stays the authority on the host; the claim keeps
/// other hosts off the port.
///
/// When etcd cannot be reached, acquisition fails with EtcdUnavailable (nothing is held); pools
/// of other managers, with FileLockPolicy, are unaffected.
///
/// @code
/// auto claims = std::make_shared<portpool::fleet::FleetClaims>(claims_options);
/// using FleetPoolManager = portpool::BasicPortPoolManager<portpool::fleet::FleetLockPolicy, portpool::BindProbe>;
/// FleetPoolManager manager("scheduler", {7100, 7101}, options, portpool::fleet::FleetLockPolicy(options, claims));
/// auto lease = manager.acquire();  // no other host holds this port now
/// @endcode
///
/// Thread safety: as the manager that owns it: try_lock() may be called from several threads.
class FleetLockPolicy {
 public:
  /// @throws LockDirError as FileLockPolicy.
  FleetLockPolicy(const Options& options, std::shared_ptr<FleetClaims> claims);

  /// Claims, then locks; a refusal from either says why: `RefusalReason::claimed_elsewhere` with
  /// the claiming host (its pid and service) in `refusal` when another host claims the port, else
  /// FileLockPolicy's refusal.
  /// @throws EtcdUnavailable, EtcdError from the claim.
  LockAttempt try_lock(const Holder& holder, bool explain) const;

  /// The local lock directory, where the port is locked once the fleet claim is made.
  const std::filesystem::path& lock_dir() const noexcept { return local_.lock_dir(); }

 private:
  FileLockPolicy local_;
  std::shared_ptr<FleetClaims> claims_;
};

/// The manager of fleet-exclusive pools: the fleet claim, the local lock, then the bind probe.
using FleetPoolManager = BasicPortPoolManager<FleetLockPolicy, BindProbe>;

/// A manager for `service`'s pool in `table`, for `options.instance`, which the table declares
/// fleet-wide (`scope = "fleet"` in TOML, `set_scope(service, PoolScope::fleet)` in C++).
///
/// @code
/// auto table = portpool::load_table_file("fleet.toml");  // [services.scheduler] scope = "fleet"
/// auto manager = portpool::fleet::make_fleet_pool_manager(table, "scheduler", options, claims);
/// auto lease = manager.acquire();
/// @endcode
/// @throws ConfigError when `service` is unknown or not declared fleet-wide, and as
/// BasicPortPoolManager; LockDirError as FileLockPolicy.
FleetPoolManager make_fleet_pool_manager(const ServicePortTable& table, const std::string& service, Options options,
                                         std::shared_ptr<FleetClaims> claims);

}  // namespace portpool::fleet
