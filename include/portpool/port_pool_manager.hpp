#pragma once

/// @file
/// PortPoolManager: takes ports from one service's pool, exclusively across processes.

#include <portpool/error.hpp>
#include <portpool/holder.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/options.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/probe.hpp>
#include <portpool/service_port_table.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace portpool {

class ListeningLease;

/// Hands out ports of one service's pool as `PortLease`s.
///
/// Each port is tried in pool order: it must not be held by this process (any manager, any
/// thread), its lock file must be free (no other process holds it), and it must pass the probe
/// (by default: no program listens on it, on any local address). Ports that browsers and fetch()
/// refuse are skipped unless `Options::allow_fetch_blocked_ports`. The first port that passes is returned;
/// no port outside the pool is ever returned. A manager is safe to use from several threads.
///
/// `LockPolicy` makes a port exclusive (default `FileLockPolicy`; the concept is described in
/// <portpool/lock_policy.hpp>), `ProbePolicy` checks that it is usable (default `BindProbe`;
/// `NoProbe` skips the check; the concept is described in <portpool/probe.hpp>).
///
/// @code
/// portpool::Options options;
/// options.instance = 2;
/// portpool::PortPoolManager manager(portpool::ServicePortTable::defaults(), "sandra-ia", options);
/// portpool::PortLease lease = manager.acquire();  // 6130 if free
/// @endcode
template <class LockPolicy, class ProbePolicy>
class BasicPortPoolManager {
 public:
  /// A manager for `pool`, tried in the given order (whatever `options.instance` is).
  /// @throws ConfigError on an invalid service name or instance id, an empty pool, port 0 or a
  /// repeated port, or instance 0; LockDirError when the lock directory is unsafe or unusable.
  BasicPortPoolManager(std::string service, std::vector<std::uint16_t> pool, Options options = {});

  /// A manager for `pool` whose ports are made exclusive by `locks`, a lock policy configured
  /// beforehand (one that needs more than `Options`, like `fleet::FleetLockPolicy`).
  /// @throws ConfigError as above.
  BasicPortPoolManager(std::string service, std::vector<std::uint16_t> pool, Options options, LockPolicy locks);

  /// A manager for `service`'s pool in `table`, for `options.instance`. The table is validated.
  /// @throws ConfigError on an invalid table, an unknown service or an instance out of range;
  /// LockDirError as above.
  BasicPortPoolManager(const ServicePortTable& table, std::string service, Options options = {});

  /// Takes the first available port of the pool.
  /// @throws PoolExhausted naming the pool and, for each port, why it was not available;
  /// LockDirError when the lock directory cannot be written; Error when descriptors run out.
  PortLease acquire();

  /// Like acquire(), but an exhausted pool gives an empty optional instead of an exception.
  std::optional<PortLease> try_acquire();

  /// Takes the first available port of the pool *and* listens on it: the lease comes with an
  /// acceptor bound to `Options::probe_address` and listening, created on `executor` (a Boost.Asio
  /// executor, e.g. `io.get_executor()`). Instead of probing a port and letting go of it, each
  /// locked port is bound and listened on for real, so no other program can take it between the
  /// check and the listen. Ports are tried, skipped, reported and explained exactly as by
  /// acquire() (the `ProbePolicy` is not used: the bind is the probe).
  ///
  /// Defined in <portpool/listening_lease.hpp> (include it to call this), so that a program that
  /// only acquires ports compiles without Boost.Asio.
  ///
  /// @code
  /// #include <portpool/listening_lease.hpp>
  /// boost::asio::io_context io;
  /// auto listening = manager.acquire_listening(io.get_executor());
  /// portpool::PortShield shield(io.get_executor(), listening, on_lost);
  /// @endcode
  /// @throws as acquire(); Error when the socket cannot be registered with the executor.
  template <class Executor>
  ListeningLease acquire_listening(const Executor& executor);

  /// Like acquire_listening(), but an exhausted pool gives an empty optional instead of an
  /// exception.
  template <class Executor>
  std::optional<ListeningLease> try_acquire_listening(const Executor& executor);

  const std::string& service() const noexcept { return service_; }
  const std::vector<std::uint16_t>& pool() const noexcept { return pool_; }
  const Options& options() const noexcept { return options_; }
  const std::filesystem::path& lock_dir() const noexcept { return locks_.lock_dir(); }

 private:
  // A claim is what makes a locked port usable: `claim(port, refusal)` gives what it obtained
  // (nothing for a probe, a listening acceptor for acquire_listening), or nullopt with `refusal`
  // saying why the port cannot be used. Every way of acquiring goes through attempt(), so ports
  // are tried, reported and explained the same way whatever the claim.
  struct Probed {};

  auto probe_claim();
  template <class Executor>
  auto listen_claim(const Executor& executor);

  template <class Claim>
  using ClaimResult = typename std::invoke_result_t<Claim&, std::uint16_t, std::string&>::value_type;

  template <class Claim>
  auto attempt(std::vector<std::string>* refusals, Claim claim)
      -> std::optional<std::pair<PortLease, ClaimResult<Claim>>>;

  template <class Claim>
  LockAttempt take(const Holder& holder, bool explain, Claim& claim, std::optional<ClaimResult<Claim>>& claimed);

  std::string exhaustion_message(const std::vector<std::string>& refusals) const;

  std::string service_;
  std::vector<std::uint16_t> pool_;
  Options options_;
  LockPolicy locks_;
  ProbePolicy probe_;
};

/// The manager with the default policies: lock files in the lock directory and a bind probe.
using PortPoolManager = BasicPortPoolManager<FileLockPolicy, BindProbe>;

}  // namespace portpool

#include <portpool/impl/port_pool_manager.hpp>
