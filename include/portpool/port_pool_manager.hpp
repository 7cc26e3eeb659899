#pragma once

/// @file
/// PortPoolManager: takes ports from one service's pool, exclusively across processes.

#include <portpool/detail/names.hpp>
#include <portpool/detail/notify.hpp>
#include <portpool/detail/port_list.hpp>
#include <portpool/error.hpp>
#include <portpool/holder.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/options.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/probe.hpp>
#include <portpool/service_port_table.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace portpool {

/// Hands out ports of one service's pool as `PortLease`s.
///
/// Each port is tried in pool order: it must not be held by this process (any manager, any
/// thread), its lock file must be free (no other process holds it), and it must pass the probe
/// (by default: bindable on `Options::probe_address`). The first port that passes is returned;
/// no port outside the pool is ever returned. A manager is safe to use from several threads.
///
/// `LockPolicy` makes a port exclusive (default `FileLockPolicy`), `ProbePolicy` checks that it is
/// usable (default `BindProbe`; `NoProbe` skips the check).
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

  /// A manager for `service`'s pool in `table`, for `options.instance`. The table is validated.
  /// @throws ConfigError on an invalid table, an unknown service or an instance out of range;
  /// LockDirError as above.
  BasicPortPoolManager(const ServicePortTable& table, std::string service, Options options = {})
      : BasicPortPoolManager(service, pool_from_table(table, service, options.instance), std::move(options)) {}

  /// Takes the first available port of the pool.
  /// @throws PoolExhausted naming the pool and, for each port, why it was not available;
  /// LockDirError when the lock directory cannot be written; Error when descriptors run out.
  PortLease acquire() {
    std::vector<std::string> refusals;
    if (auto lease = attempt(&refusals)) {
      return std::move(*lease);
    }
    throw PoolExhausted(exhaustion_message(refusals));
  }

  /// Like acquire(), but an exhausted pool gives an empty optional instead of an exception.
  std::optional<PortLease> try_acquire() {
    std::vector<std::string> refusals;
    return attempt(options_.on_event ? &refusals : nullptr);
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
    return true;
  }

  std::optional<PortLease> attempt(std::vector<std::string>* refusals) {
    for (auto port : pool_) {
      auto taken = take(port, refusals != nullptr);
      if (taken.lock) {
        taken.lock->publish();
        detail::notify(options_.on_event, Event{EventKind::acquired, service_, port,
                                                fmt::format("acquired port {} for '{}'", port, service_)});
        return PortLease(std::move(taken.lock), options_.on_event);
      }
      if (refusals != nullptr) {
        detail::notify(options_.on_event, Event{EventKind::skipped, service_, port,
                                                fmt::format("skipped port {}: {}", port, taken.refusal)});
        refusals->push_back(fmt::format("{}: {}", port, taken.refusal));
      }
    }
    if (refusals != nullptr) {
      detail::notify(options_.on_event, Event{EventKind::exhausted, service_, 0, exhaustion_message(*refusals)});
    }
    return std::nullopt;
  }

  detail::LockAttempt take(std::uint16_t port, bool explain) {
    Holder holder{
        port, service_, ::getpid(), options_.instance, options_.instance_id, std::chrono::system_clock::now()};
    auto attempt = locks_.try_lock(holder, explain);
    if (attempt.lock) {
      if (auto problem = probe_.check(options_.probe_address, port)) {
        attempt.lock.reset();
        attempt.refusal = std::move(*problem);
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
        "no free port for '{}' (instance {}) in its pool {}:{}\nStop one of the holders (see "
        "'portpool status'), or give '{}' a larger pool.",
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
