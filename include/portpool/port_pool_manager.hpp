#pragma once

/// @file
/// PortPoolManager: takes ports from one service's pool, exclusively across processes.

#include <portpool/detail/names.hpp>
#include <portpool/detail/notify.hpp>
#include <portpool/detail/port_list.hpp>
#include <portpool/detail/test_hook.hpp>
#include <portpool/error.hpp>
#include <portpool/fetch_blocked_ports.hpp>
#include <portpool/holder.hpp>
#include <portpool/impl/listening_acceptor.hpp>
#include <portpool/impl/valid_name.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/options.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/probe.hpp>
#include <portpool/service_description.hpp>
#include <portpool/service_port_table.hpp>

#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace portpool {

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
  BasicPortPoolManager(std::string service, std::vector<std::uint16_t> pool, Options options = {})
      : service_(std::move(service)),
        pool_(std::move(pool)),
        options_(std::move(options)),
        locks_((check_arguments(service_, pool_, options_), options_)) {}

  /// A manager for `pool` whose ports are made exclusive by `locks`, a lock policy configured
  /// beforehand (one that needs more than `Options`, like `fleet::FleetLockPolicy`).
  /// @throws ConfigError as above.
  BasicPortPoolManager(std::string service, std::vector<std::uint16_t> pool, Options options, LockPolicy locks)
      : service_(std::move(service)),
        pool_(std::move(pool)),
        options_(std::move(options)),
        locks_((check_arguments(service_, pool_, options_), std::move(locks))) {}

  /// A manager for `service`'s pool in `table`, for `options.instance`. The table is validated.
  /// @throws ConfigError on an invalid table, an unknown service or an instance out of range;
  /// LockDirError as above.
  BasicPortPoolManager(const ServicePortTable& table, std::string service, Options options = {})
      : BasicPortPoolManager(service, pool_from_table(table, service, options.instance),
                             with_table_permissions(table, service, std::move(options))) {}

  /// Takes the first available port of the pool.
  /// @throws PoolExhausted naming the pool and, for each port, why it was not available;
  /// LockDirError when the lock directory cannot be written; Error when descriptors run out.
  PortLease acquire() {
    std::vector<std::string> refusals;
    if (auto taken = attempt(&refusals, probe_claim())) {
      return std::move(taken->first);
    }
    throw PoolExhausted(exhaustion_message(refusals));
  }

  /// Like acquire(), but an exhausted pool gives an empty optional instead of an exception.
  std::optional<PortLease> try_acquire() {
    std::vector<std::string> refusals;
    if (auto taken = attempt(options_.on_event ? &refusals : nullptr, probe_claim())) {
      return std::move(taken->first);
    }
    return std::nullopt;
  }

  /// Takes the first available port of the pool *and* listens on it: the lease comes with an
  /// acceptor bound to `Options::probe_address` and listening, created on `executor`. Instead of
  /// probing a port and letting go of it, each locked port is bound and listened on for real, so
  /// no other program can take it between the check and the listen. Ports are tried, skipped,
  /// reported and explained exactly as by acquire() (the `ProbePolicy` is not used: the bind is
  /// the probe).
  ///
  /// @code
  /// boost::asio::io_context io;
  /// auto listening = manager.acquire_listening(io.get_executor());
  /// portpool::PortShield shield(io.get_executor(), listening, on_lost);
  /// @endcode
  /// @throws as acquire(); Error when the socket cannot be registered with the executor.
  ListeningLease acquire_listening(boost::asio::any_io_executor executor) {
    std::vector<std::string> refusals;
    if (auto taken = attempt(&refusals, listen_claim(std::move(executor)))) {
      return ListeningLease{std::move(taken->first), std::move(taken->second)};
    }
    throw PoolExhausted(exhaustion_message(refusals));
  }

  /// Like acquire_listening(), but an exhausted pool gives an empty optional instead of an
  /// exception.
  std::optional<ListeningLease> try_acquire_listening(boost::asio::any_io_executor executor) {
    std::vector<std::string> refusals;
    if (auto taken = attempt(options_.on_event ? &refusals : nullptr, listen_claim(std::move(executor)))) {
      return ListeningLease{std::move(taken->first), std::move(taken->second)};
    }
    return std::nullopt;
  }

  const std::string& service() const noexcept { return service_; }
  const std::vector<std::uint16_t>& pool() const noexcept { return pool_; }
  const Options& options() const noexcept { return options_; }
  const std::filesystem::path& lock_dir() const noexcept { return locks_.lock_dir(); }

 private:
  static std::vector<std::uint16_t> pool_from_table(const ServicePortTable& table, const std::string& service,
                                                    unsigned instance) {
    table.validate();
    return table.search_order(service, instance);
  }

  static Options with_table_permissions(const ServicePortTable& table, const std::string& service, Options options) {
    options.allow_fetch_blocked_ports = options.allow_fetch_blocked_ports || table.allows_fetch_blocked_ports(service);
    options.description = with_defaults(std::move(options.description), table.description(service));
    return options;
  }

  static bool check_arguments(const std::string& service, const std::vector<std::uint16_t>& pool, Options& options) {
    detail::require_valid_name("service name", service);
    if (pool.empty()) {
      throw ConfigError(fmt::format("the pool of '{}' is empty: give it at least one port", service));
    }
    auto sorted = pool;
    std::sort(sorted.begin(), sorted.end());
    if (sorted.front() == 0) {
      throw ConfigError(fmt::format("the pool of '{}' contains port 0, which is not a port: use 1..65535", service));
    }
    if (auto repeated = std::adjacent_find(sorted.begin(), sorted.end()); repeated != sorted.end()) {
      throw ConfigError(fmt::format("the pool of '{}' lists port {} twice", service, *repeated));
    }
    if (options.instance == 0) {
      throw ConfigError("instance 0 is not an instance number: instances count from 1");
    }
    if (options.instance_id.empty()) {
      options.instance_id = detail::generate_instance_id();
    }
    detail::require_valid_name("instance id", options.instance_id);
    validate_description(options.description);
    return true;
  }

  // A claim is what makes a locked port usable: `claim(port, refusal)` gives what it obtained
  // (nothing for a probe, a listening acceptor for acquire_listening), or nullopt with `refusal`
  // saying why the port cannot be used. Every way of acquiring goes through attempt(), so ports
  // are tried, reported and explained the same way whatever the claim.
  struct Probed {};

  auto probe_claim() {
    return [this](std::uint16_t port, std::string& refusal) -> std::optional<Probed> {
      if (auto problem = probe_.check(options_.probe_address, port)) {
        refusal = std::move(*problem);
        return std::nullopt;
      }
      return Probed{};
    };
  }

  auto listen_claim(boost::asio::any_io_executor executor) {
    return [this, executor = std::move(executor)](
               std::uint16_t port, std::string& refusal) -> std::optional<boost::asio::ip::tcp::acceptor> {
      return detail::open_listening_acceptor(executor, options_.probe_address, port, refusal);
    };
  }

  template <class Claim>
  using ClaimResult = typename std::invoke_result_t<Claim&, std::uint16_t, std::string&>::value_type;

  template <class Claim>
  std::optional<std::pair<PortLease, ClaimResult<Claim>>> attempt(std::vector<std::string>* refusals, Claim claim) {
    // One holder for the whole walk: a refused port costs no copy of the names.
    Holder holder{0,
                  service_,
                  ::getpid(),
                  options_.instance,
                  options_.instance_id,
                  std::chrono::system_clock::now(),
                  {},
                  options_.description};
    for (auto port : pool_) {
      std::optional<ClaimResult<Claim>> claimed;
      holder.port = port;
      auto taken = take(holder, refusals != nullptr, claim, claimed);
      if (taken.lock) {
        detail::reached_step("probed");
        if (options_.on_event) {  // the message is only formatted for someone who listens
          detail::notify(options_.on_event, Event{EventKind::acquired, service_, port,
                                                  fmt::format("acquired port {} for '{}'", port, service_)});
        }
        return std::pair<PortLease, ClaimResult<Claim>>(PortLease(std::move(*taken.lock), options_.on_event),
                                                        std::move(*claimed));
      }
      if (refusals != nullptr) {
        if (options_.on_event) {
          detail::notify(options_.on_event, Event{EventKind::skipped, service_, port,
                                                  fmt::format("skipped port {}: {}", port, taken.refusal)});
        }
        refusals->push_back(fmt::format("{}: {}", port, taken.refusal));
      }
    }
    if (refusals != nullptr && options_.on_event) {
      detail::notify(options_.on_event, Event{EventKind::exhausted, service_, 0, exhaustion_message(*refusals)});
    }
    return std::nullopt;
  }

  template <class Claim>
  LockAttempt take(const Holder& holder, bool explain, Claim& claim, std::optional<ClaimResult<Claim>>& claimed) {
    if (!options_.allow_fetch_blocked_ports && is_fetch_blocked_port(holder.port)) {
      return {std::nullopt,
              fmt::format("browsers and fetch() refuse to connect to port {} (a \"bad port\" of the Fetch "
                          "standard); allow_fetch_blocked_ports lets the pool use it",
                          holder.port)};
    }
    auto attempt = locks_.try_lock(holder, explain);
    if (attempt.lock) {
      // Recorded before the claim, so that a reader never meets this lock with a record of a holder
      // that crashed before us; a port the claim refuses is released, which retires the record.
      attempt.lock->publish();
      claimed = claim(holder.port, attempt.refusal);
      if (!claimed) {
        attempt.lock.reset();
      }
    }
    return attempt;
  }

  std::string exhaustion_message(const std::vector<std::string>& refusals) const {
    auto sorted = pool_;
    std::sort(sorted.begin(), sorted.end());
    std::string lines;
    for (const auto& refusal : refusals) {
      lines += "\n  " + refusal;
    }
    return fmt::format(
        "no free port for '{}' (instance {}) in its pool {}:{}\nStop one of the holders, or give '{}' a "
        "larger pool.",
        service_, options_.instance, detail::describe_ports(sorted), lines, service_);
  }

  std::string service_;
  std::vector<std::uint16_t> pool_;
  Options options_;
  LockPolicy locks_;
  ProbePolicy probe_;
};

/// The manager with the default policies: lock files in the lock directory and a bind probe.
using PortPoolManager = BasicPortPoolManager<FileLockPolicy, BindProbe>;

}  // namespace portpool
