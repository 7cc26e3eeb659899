#pragma once

/// @file
/// Fleet-exclusive pools: a lock policy that makes each port of a pool held by at most one holder
/// across every host that shares an etcd.

#include <portpool/fencing_token.hpp>
#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/etcd_options.hpp>
#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/holder.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/options.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/probe.hpp>
#include <portpool/service_port_table.hpp>

// After the manager's declarations: its bodies, which separate compilation leaves out of them
// (a FleetPoolManager is instantiated where it is used).
#include <portpool/impl/port_pool_manager.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace portpool::fleet {

/// Why a FleetClaims session counts its claims as lost (FleetClaimsOptions::on_claims_lost).
struct ClaimsLost {
  /// What was seen.
  enum class Reason {
    /// etcd answered a renewal with "no such lease": it expired, was revoked, or etcd lost its data.
    lease_expired_in_etcd,
    /// No renewal sent before the local deadline was confirmed by etcd in time: the lease may expire
    /// in etcd within the stop margin, and another host may then claim the ports.
    deadline_passed_without_renewal,
  };
  Reason reason = Reason::lease_expired_in_etcd;  ///< what was seen
  std::string message;                            ///< says what happened and what other hosts may now do
};

/// Settings of a FleetClaims session.
///
/// The session keeps a local deadline: the *send* time (steady clock) of the last renewal etcd
/// confirmed, plus the TTL etcd granted, minus `stop_margin`. etcd cannot expire the lease before
/// the send time plus the TTL (its countdown starts when the renewal arrives, later), so a holder
/// that stops using its ports by the deadline is done `stop_margin` before another host can claim
/// them, as long as etcd's clock and this host's run at about the same rate. This is the renew
/// deadline of Kubernetes' leader election, shorter than the lease duration.
///
/// @code
/// portpool::fleet::FleetClaimsOptions options;
/// options.etcd.endpoints = {"http://10.0.0.5:2379"};
/// options.ttl = std::chrono::seconds(10);
/// options.stop_margin = std::chrono::seconds(4);  // the service stops within 4 s
/// options.on_claims_lost = [](const portpool::fleet::ClaimsLost& lost) { stop_serving(lost.message); };
/// @endcode
struct FleetClaimsOptions {
  EtcdOptions etcd;                     ///< how to reach etcd
  std::string host_id;                  ///< empty: /etc/machine-id
  std::string prefix = default_prefix;  ///< the key prefix shared by the fleet's hosts
  std::chrono::seconds ttl{10};         ///< claims vanish this long after this process dies or loses etcd

  /// How long before the lease can expire in etcd the claims count as lost: the time the holder has
  /// to stop using its ports. Unset: a third of the TTL, at least 2 s, at most half the TTL. It must
  /// leave at least `minimum_renewal_window` of the TTL for renewals (ConfigError otherwise).
  /// Renewals are sent every third of the TTL minus the margin, and every 500 ms (at most) after one
  /// that failed.
  std::optional<std::chrono::milliseconds> stop_margin;

  /// Called once per lease (on one of the session's own threads) when the claims count as lost:
  /// etcd says the lease is gone, or the local deadline passed without a confirmed renewal, while
  /// at least one claim was held on it. Every claim of the session is then lost, or will be within
  /// the stop margin; the service should stop using its fleet ports. Must not throw. Called with
  /// `ClaimsLost::message` when both are set.
  std::function<void(const std::string&)> on_lost;

  /// As `on_lost`, with the reason. Called first when both are set.
  std::function<void(const ClaimsLost&)> on_claims_lost;
};

/// The least part of the TTL that FleetClaimsOptions::stop_margin must leave for renewals.
inline constexpr std::chrono::milliseconds minimum_renewal_window{1000};

/// The stop margin a session with `options` uses: `options.stop_margin`, or the default for its TTL.
/// @throws ConfigError when the margin is negative or leaves less than `minimum_renewal_window` of the TTL.
std::chrono::milliseconds effective_stop_margin(const FleetClaimsOptions& options);

/// One process's session of fleet-wide claims: `PREFIX/claims/PORT` keys, created only where
/// absent (a transaction on `create_revision == 0`) and attached to one lease that a background
/// thread keeps alive; a second thread watches the local deadline (FleetClaimsOptions). Once the
/// claims count as lost, the lease is no longer renewed (nor revoked: it expires in etcd by
/// itself, after the stop margin) and the next claim takes a new one. Shared by the FleetLockPolicy
/// of every manager of the process.
///
/// **The epoch marker.** After etcd lost its data nothing in it remembers the old claims, while
/// their holders run on until their own deadlines. So before its first claim on each lease (after
/// a loss, the next claim takes a new one) a session reads `PREFIX/epoch` (epoch_key()). When it
/// is missing (a new or wiped cluster), the session creates `PREFIX/epoch-settling` on a lease of
/// the TTL plus the stop margin (rounded up to whole seconds), then the marker, both only where
/// absent; while the settling key exists, which etcd ends by itself, claim() refuses every port
/// with a refusal that says so (a manager's `claimed_elsewhere`): acquire() fails at once as for a
/// port claimed elsewhere, and acquire_for() with a long enough timeout takes the port once the
/// cluster has settled, by which time every holder from before the loss has passed its deadline
/// and stopped. A cluster known to be new is seeded without the wait by initialize_fleet().
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
  /// who has it, or that the fleet's epoch has not settled yet (see above).
  /// @throws EtcdUnavailable when etcd cannot be reached, EtcdError when it refuses.
  std::optional<std::int64_t> claim(const Holder& holder, std::string& refusal);

  /// Gives back a claim (compare-and-swap on its revision, so a successor's claim is never
  /// removed). Never throws: a claim that cannot be deleted vanishes with the session's lease.
  void release(std::uint16_t port, std::int64_t revision) noexcept;

  /// The host id the claims are made under.
  const std::string& host_id() const noexcept;

  /// The fencing token of the claim made at `revision`: the revision and the id of the etcd cluster
  /// that answered it.
  FencingToken fencing_token(std::int64_t revision) const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

/// Seeds a cluster known to be new: creates the fleet's epoch marker `PREFIX/epoch` where it is
/// absent, so that the first claims under `prefix` count at once instead of after a TTL plus the
/// stop margin. The marker's value, `{"created":"ISO 8601 UTC","host":HOST,"seeded":true}`, is
/// informative; only the key's existence is used. Seeding a cluster that lost its data while
/// holders from before may still run gives up the guarantee that the wait keeps: do it only for a
/// new cluster. True when the marker was created, false when it existed.
///
/// @code
/// portpool::fleet::EtcdClient etcd(etcd_options);
/// portpool::fleet::initialize_fleet(etcd, "/portpool/v1", "bootstrap-1");
/// @endcode
/// @throws ConfigError on an invalid prefix or host id; EtcdUnavailable, EtcdError from etcd.
/// Thread safety: as `etcd`'s calls.
bool initialize_fleet(EtcdClient& etcd, const std::string& prefix, const std::string& host_id);

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
