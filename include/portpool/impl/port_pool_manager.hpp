#pragma once

// The bodies of BasicPortPoolManager (included at the end of port_pool_manager.hpp). Every way of
// acquiring walks the pool through attempt(): a port is locked, recorded, then claimed (probed, or
// bound and listened on), so ports are skipped and explained the same way whatever the claim.

// Only port_pool_manager.hpp includes this file, at its end, after the declarations it defines.

#include <portpool/detail/names.hpp>
#include <portpool/detail/notify.hpp>
#include <portpool/detail/port_list.hpp>
#include <portpool/detail/process_id.hpp>
#include <portpool/detail/test_hook.hpp>
#include <portpool/fetch_blocked_ports.hpp>
#include <portpool/impl/valid_name.hpp>
#include <portpool/service_description.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

namespace portpool {

namespace detail {

inline std::vector<std::uint16_t> pool_from_table(const ServicePortTable& table, const std::string& service,
                                                  unsigned instance) {
  table.validate();
  return table.search_order(service, instance);
}

// The table's word on fetch-blocked ports and the service's description, for a manager built from it.
inline Options with_table_permissions(const ServicePortTable& table, const std::string& service, Options options) {
  options.allow_fetch_blocked_ports = options.allow_fetch_blocked_ports || table.allows_fetch_blocked_ports(service);
  options.description = with_defaults(std::move(options.description), table.description(service));
  return options;
}

// Returns true so that it can run in a member initialiser, before the lock policy is built.
inline bool check_manager_arguments(const std::string& service, const std::vector<std::uint16_t>& pool,
                                    Options& options) {
  require_valid_name("service name", service);
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
    options.instance_id = generate_instance_id();
  }
  require_valid_name("instance id", options.instance_id);
  validate_description(options.description);
  return true;
}

}  // namespace detail

template <class LockPolicy, class ProbePolicy>
BasicPortPoolManager<LockPolicy, ProbePolicy>::BasicPortPoolManager(std::string service,
                                                                    std::vector<std::uint16_t> pool, Options options)
    : service_(std::move(service)),
      pool_(std::move(pool)),
      options_(std::move(options)),
      locks_((detail::check_manager_arguments(service_, pool_, options_), options_)) {}

template <class LockPolicy, class ProbePolicy>
BasicPortPoolManager<LockPolicy, ProbePolicy>::BasicPortPoolManager(std::string service,
                                                                    std::vector<std::uint16_t> pool, Options options,
                                                                    LockPolicy locks)
    : service_(std::move(service)),
      pool_(std::move(pool)),
      options_(std::move(options)),
      locks_((detail::check_manager_arguments(service_, pool_, options_), std::move(locks))) {}

template <class LockPolicy, class ProbePolicy>
BasicPortPoolManager<LockPolicy, ProbePolicy>::BasicPortPoolManager(const ServicePortTable& table, std::string service,
                                                                    Options options)
    : BasicPortPoolManager(service, detail::pool_from_table(table, service, options.instance),
                           detail::with_table_permissions(table, service, std::move(options))) {}

template <class LockPolicy, class ProbePolicy>
auto BasicPortPoolManager<LockPolicy, ProbePolicy>::probe_claim() {
  return [this](std::uint16_t port, std::string& refusal) -> std::optional<Probed> {
    if (auto problem = probe_.check(options_.probe_address, port)) {
      refusal = std::move(*problem);
      return std::nullopt;
    }
    return Probed{};
  };
}

template <class LockPolicy, class ProbePolicy>
PortLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire() {
  std::vector<std::string> refusals;
  if (auto taken = attempt(&refusals, probe_claim())) {
    return std::move(taken->first);
  }
  throw PoolExhausted(exhaustion_message(refusals));
}

template <class LockPolicy, class ProbePolicy>
std::optional<PortLease> BasicPortPoolManager<LockPolicy, ProbePolicy>::try_acquire() {
  std::vector<std::string> refusals;
  if (auto taken = attempt(options_.on_event ? &refusals : nullptr, probe_claim())) {
    return std::move(taken->first);
  }
  return std::nullopt;
}

template <class LockPolicy, class ProbePolicy>
template <class Claim>
auto BasicPortPoolManager<LockPolicy, ProbePolicy>::attempt(std::vector<std::string>* refusals, Claim claim)
    -> std::optional<std::pair<PortLease, ClaimResult<Claim>>> {
  // One holder for the whole walk: a refused port costs no copy of the names.
  Holder holder{0,
                service_,
                detail::current_process_id(),
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

template <class LockPolicy, class ProbePolicy>
template <class Claim>
LockAttempt BasicPortPoolManager<LockPolicy, ProbePolicy>::take(const Holder& holder, bool explain, Claim& claim,
                                                                std::optional<ClaimResult<Claim>>& claimed) {
  if (!options_.allow_fetch_blocked_ports && is_fetch_blocked_port(holder.port)) {
    return {std::nullopt, fmt::format("browsers and fetch() refuse to connect to port {} (a \"bad port\" of the Fetch "
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

template <class LockPolicy, class ProbePolicy>
std::string BasicPortPoolManager<LockPolicy, ProbePolicy>::exhaustion_message(
    const std::vector<std::string>& refusals) const {
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

}  // namespace portpool
