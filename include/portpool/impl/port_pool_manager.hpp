#pragma once

// The bodies of BasicPortPoolManager. Every way of acquiring walks the pool through attempt(): a
// port is locked, recorded, then claimed (probed, or bound and listened on), so ports are skipped
// and explained the same way whatever the claim.

// Included after the declarations it defines: at the end of port_pool_manager.hpp when the library
// is header-only; under PORTPOOL_SEPARATE_COMPILATION by <portpool/src.hpp>, by the headers of the
// acquisitions that hand out sockets, and by a program that builds a manager with other policies,
// each after port_pool_manager.hpp.

#include <portpool/detail/message.hpp>
#include <portpool/detail/names.hpp>
#include <portpool/detail/notify.hpp>
#include <portpool/detail/port_list.hpp>
#include <portpool/detail/process_id.hpp>
#include <portpool/detail/test_hook.hpp>
#include <portpool/error_code.hpp>
#include <portpool/fetch_blocked_ports.hpp>
#include <portpool/impl/lock_file_watch.hpp>
#include <portpool/impl/valid_name.hpp>
#include <portpool/service_description.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace portpool {

namespace detail {

// Returns true so that it can run in a member initialiser, before the lock policy is built.
inline bool check_manager_arguments(const std::string& service, const std::vector<std::uint16_t>& pool,
                                    Options& options) {
  require_valid_name("service name", service);
  if (pool.empty()) {
    throw ConfigError(format_message("the pool of '{}' is empty: give it at least one port", {service}));
  }
  auto sorted = pool;
  std::sort(sorted.begin(), sorted.end());
  if (sorted.front() == 0) {
    throw ConfigError(format_message("the pool of '{}' contains port 0, which is not a port: use 1..65535", {service}));
  }
  if (auto repeated = std::adjacent_find(sorted.begin(), sorted.end()); repeated != sorted.end()) {
    throw ConfigError(format_message("the pool of '{}' lists port {} twice", {service, *repeated}));
  }
  if (options.instance == 0) {
    throw ConfigError("instance 0 is not an instance number: instances count from 1");
  }
  require_valid_application_pid(options.application_pid);
  if (options.instance_id.empty()) {
    options.instance_id = generate_instance_id();
  }
  if (!options.transport) {
    options.transport = Transport::tcp;
  }
  require_valid_name("instance id", options.instance_id);
  validate_description(options.description);
  return true;
}

// How often a waiting acquisition re-checks ports that no event can announce: ports free of any
// lock but refused (another program listens, a fleet claim of another host), or every port where
// inotify cannot be had.
inline constexpr std::chrono::milliseconds recheck_interval(250);

// The lock files a waiting acquisition watches: the pool's, but for ports it never takes.
inline std::vector<std::string> waited_lock_names(const std::vector<std::uint16_t>& pool,
                                                  bool allow_fetch_blocked_ports) {
  std::vector<std::string> names;
  for (auto port : pool) {
    if (allow_fetch_blocked_ports || !is_fetch_blocked_port(port)) {
      names.push_back(port_lock_name(port));
    }
  }
  return names;
}

// Whether a lock file locked in `before` is not locked in `after`.
inline bool any_released(const std::vector<bool>& before, const std::vector<bool>& after) {
  for (std::size_t index = 0; index < before.size() && index < after.size(); ++index) {
    if (before[index] && !after[index]) {
      return true;
    }
  }
  return false;
}

// Waits until a lock file locked in `locked` is let go (woken by inotify), a re-check is due
// (when some port is refused though unlocked, or nothing can be watched), or `time_left` runs out.
// Each wake looks only at the files its events named.
inline void wait_for_release(LockFileWatch& watch, std::vector<bool> locked, const TimeLeft& time_left) {
  const auto recheck_at = std::chrono::steady_clock::now() + recheck_interval;
  auto settle = LockFileWatch::settle_delays.size();  // no look after a close pending
  std::vector<std::size_t> closed;                    // the files of the last close, looked at again
  while (true) {
    auto wait = time_left();
    if (wait == std::chrono::nanoseconds::zero()) {
      return;
    }
    if (!watch.watching() || std::find(locked.begin(), locked.end(), false) != locked.end()) {
      auto until_recheck = recheck_at - std::chrono::steady_clock::now();
      if (until_recheck <= decltype(until_recheck)::zero()) {
        return;
      }
      wait = std::min(wait, std::chrono::ceil<std::chrono::nanoseconds>(until_recheck));
    }
    const bool settling = settle < LockFileWatch::settle_delays.size();
    if (settling) {
      wait = std::min<std::chrono::nanoseconds>(wait, LockFileWatch::settle_delays[settle]);
    }
    auto wake = watch.wait_for(wait);
    if (wake == LockFileWatch::Wake::timeout && !settling) {
      continue;  // the deadline or the re-check: seen at the top
    }
    const auto& looked_at = wake == LockFileWatch::Wake::timeout ? closed : watch.touched();
    for (auto index : looked_at) {
      const bool now_locked = watch.locked(index);
      if (locked[index] && !now_locked) {
        return;
      }
      locked[index] = now_locked;
    }
    if (wake == LockFileWatch::Wake::closed) {
      settle = 0;
      closed = watch.touched();
    } else if (wake == LockFileWatch::Wake::timeout) {
      ++settle;
    }
  }
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

namespace detail {

// The acquisition that hands out the sockets of `transport`, as the refusal of another names it.
inline const char* acquisition_for(Transport transport) noexcept {
  switch (transport) {
    case Transport::udp:
      return "acquire_datagram()";
    case Transport::both:
      return "acquire_tcp_and_udp()";
    case Transport::tcp:
      break;
  }
  return "acquire_listening()";
}

}  // namespace detail

template <class LockPolicy, class ProbePolicy>
void BasicPortPoolManager<LockPolicy, ProbePolicy>::require_transport(Transport serves, const char* form) const {
  if (*options_.transport != serves) {
    throw ConfigError(detail::format_message(
        "{} hands out ports with {} sockets, but the service '{}' is {}: take its port with {} (or with acquire() "
        "for the lock alone)",
        {form, serves == Transport::both ? "TCP and UDP" : (serves == Transport::udp ? "UDP" : "listening TCP"),
         service_, to_string(*options_.transport), detail::acquisition_for(*options_.transport)}));
  }
}

template <class LockPolicy, class ProbePolicy>
auto BasicPortPoolManager<LockPolicy, ProbePolicy>::probe_claim() {
  return [this](std::uint16_t port, std::string& refusal) -> std::optional<Probed> {
    if (auto problem = detail::probe_check(probe_, options_.probe_address, port, *options_.transport)) {
      refusal = std::move(*problem);
      return std::nullopt;
    }
    return Probed{};
  };
}

template <class LockPolicy, class ProbePolicy>
PortLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire() {
  std::vector<Refusal> refusals;
  if (auto taken = attempt(&refusals, probe_claim())) {
    return std::move(taken->first);
  }
  auto message = exhaustion_message(refusals);
  throw PoolExhausted(message, service_, std::move(refusals));
}

template <class LockPolicy, class ProbePolicy>
PortLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire(std::error_code& error) {
  try {
    std::vector<Refusal> refusals;
    if (auto taken = attempt(options_.on_event ? &refusals : nullptr, probe_claim())) {
      error.clear();
      return std::move(taken->first);
    }
    error = errc::pool_exhausted;
  } catch (const Error& failure) {
    error = error_code_for(failure);
  }
  return {};
}

template <class LockPolicy, class ProbePolicy>
std::optional<PortLease> BasicPortPoolManager<LockPolicy, ProbePolicy>::try_acquire() {
  std::vector<Refusal> refusals;
  if (auto taken = attempt(options_.on_event ? &refusals : nullptr, probe_claim())) {
    return std::move(taken->first);
  }
  return std::nullopt;
}

template <class LockPolicy, class ProbePolicy>
std::optional<PortLease> BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_waiting(
    const detail::TimeLeft& time_left) {
  if (auto taken = attempt_until(time_left, [this] { return attempt(nullptr, probe_claim()); })) {
    return std::move(taken->first);
  }
  return std::nullopt;
}

template <class LockPolicy, class ProbePolicy>
template <class Attempt>
auto BasicPortPoolManager<LockPolicy, ProbePolicy>::attempt_until(const detail::TimeLeft& time_left,
                                                                  Attempt attempt_quietly)
    -> decltype(attempt_quietly()) {
  if (time_left() == std::chrono::nanoseconds::zero()) {
    return std::nullopt;
  }
  // Watching before the first attempt: a release between an attempt and the wait is not missed.
  detail::LockFileWatch watch(locks_.lock_dir(), detail::waited_lock_names(pool_, options_.allow_fetch_blocked_ports));
  while (time_left() > std::chrono::nanoseconds::zero()) {
    auto before = watch.locked();
    if (auto taken = attempt_quietly()) {
      return taken;
    }
    // The attempt's own closes woke the watch: drop them and look at the files instead, which
    // also shows a release that happened during the attempt.
    watch.discard_events();
    auto after = watch.locked();
    if (!detail::any_released(before, after)) {
      detail::wait_for_release(watch, std::move(after), time_left);
    }
  }
  return std::nullopt;
}

template <class LockPolicy, class ProbePolicy>
template <class Claim>
auto BasicPortPoolManager<LockPolicy, ProbePolicy>::attempt(std::vector<Refusal>* refusals, Claim claim)
    -> std::optional<std::pair<PortLease, ClaimResult<Claim>>> {
  // One holder for the whole walk: a refused port costs no copy of the names.
  Holder holder{0,
                service_,
                detail::current_process_id(),
                options_.instance,
                options_.instance_id,
                std::chrono::system_clock::now(),
                {},
                options_.description,
                *options_.transport,
                options_.application_pid};
  for (auto port : pool_) {
    std::optional<ClaimResult<Claim>> claimed;
    holder.port = port;
    auto taken = take(holder, refusals != nullptr, claim, claimed);
    if (taken.lock) {
      detail::reached_step("probed");
      if (options_.on_event) {  // the message is only formatted for someone who listens
        detail::notify(options_.on_event, Event{EventKind::acquired,
                                                service_,
                                                port,
                                                detail::format_message("acquired port {} for '{}'", {port, service_}),
                                                std::nullopt,
                                                std::nullopt,
                                                {}});
      }
      return std::pair<PortLease, ClaimResult<Claim>>(PortLease(std::move(*taken.lock), options_.on_event),
                                                      std::move(*claimed));
    }
    if (refusals != nullptr) {
      if (options_.on_event) {
        detail::notify(options_.on_event, Event{EventKind::skipped,
                                                service_,
                                                port,
                                                detail::format_message("skipped port {}: {}", {port, taken.refusal}),
                                                taken.reason,
                                                taken.holder,
                                                {}});
      }
      refusals->push_back(Refusal{port, taken.reason, std::move(taken.holder), std::move(taken.refusal)});
    }
  }
  if (refusals != nullptr && options_.on_event) {
    detail::notify(options_.on_event, Event{EventKind::exhausted, service_, 0, exhaustion_message(*refusals),
                                            std::nullopt, std::nullopt, *refusals});
  }
  return std::nullopt;
}

template <class LockPolicy, class ProbePolicy>
template <class Claim>
LockAttempt BasicPortPoolManager<LockPolicy, ProbePolicy>::take(const Holder& holder, bool explain, Claim& claim,
                                                                std::optional<ClaimResult<Claim>>& claimed) {
  if (!options_.allow_fetch_blocked_ports && is_fetch_blocked_port(holder.port)) {
    return {std::nullopt,
            detail::format_message("browsers and fetch() refuse to connect to port {} (a \"bad port\" of the Fetch "
                                   "standard); allow_fetch_blocked_ports lets the pool use it",
                                   {holder.port}),
            RefusalReason::blocked_port, std::nullopt};
  }
  auto attempt = locks_.try_lock(holder, explain);
  if (attempt.lock) {
    // Recorded before the claim, so that a reader never meets this lock with a record of a holder
    // that crashed before us; a port the claim refuses is released, which retires the record.
    attempt.lock->publish();
    claimed = claim(holder.port, attempt.refusal);
    if (!claimed) {
      attempt.lock.reset();
      attempt.reason = RefusalReason::in_use;
    }
  }
  return attempt;
}

template <class LockPolicy, class ProbePolicy>
std::string BasicPortPoolManager<LockPolicy, ProbePolicy>::exhaustion_message(
    const std::vector<Refusal>& refusals) const {
  auto sorted = pool_;
  std::sort(sorted.begin(), sorted.end());
  std::string lines;
  for (const auto& refusal : refusals) {
    lines += detail::format_message("\n  {}: {}", {refusal.port, refusal.detail});
  }
  return detail::format_message(
      "no free port for '{}' (instance {}) in its pool {}:{}\nStop one of the holders, or give '{}' a "
      "larger pool.",
      {service_, options_.instance, detail::describe_ports(sorted), lines, service_});
}

}  // namespace portpool
