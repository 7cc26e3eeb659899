#pragma once

// The four forms (throwing, error code, try, waiting) of the acquisitions that hand out sockets
// with the port: acquire_listening, acquire_datagram and acquire_tcp_and_udp differ only in their
// claim and their lease type. Included by the bodies of each (impl/port_pool_manager_*.hpp), never
// by the core: the leases hold Asio sockets.

#include <portpool/port_pool_manager.hpp>

// After the manager's declarations: its bodies, which separate compilation leaves out of them.
#include <portpool/impl/port_pool_manager.hpp>

#include <chrono>
#include <optional>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace portpool {

namespace detail {

// A lease from the PortLease and what its claim obtained: one socket, or a tuple of them.
template <class Lease, class Claimed>
Lease lease_from(PortLease lease, Claimed claimed) {
  return Lease(std::move(lease), std::move(claimed));
}

template <class Lease, class... Sockets>
Lease lease_from(PortLease lease, std::tuple<Sockets...> claimed) {
  return std::apply([&lease](auto&&... sockets) { return Lease(std::move(lease), std::move(sockets)...); },
                    std::move(claimed));
}

}  // namespace detail

template <class LockPolicy, class ProbePolicy>
template <class Lease, class Claim>
Lease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_claimed(Transport serves, const char* form, Claim claim) {
  require_transport(serves, form);
  std::vector<Refusal> refusals;
  if (auto taken = attempt(&refusals, std::move(claim))) {
    return detail::lease_from<Lease>(std::move(taken->first), std::move(taken->second));
  }
  auto message = exhaustion_message(refusals);
  throw PoolExhausted(message, service_, std::move(refusals));
}

template <class LockPolicy, class ProbePolicy>
template <class Lease, class Claim, class MakeEmpty>
Lease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_claimed(Transport serves, const char* form, Claim claim,
                                                                     std::error_code& error, MakeEmpty make_empty) {
  try {
    require_transport(serves, form);
    std::vector<Refusal> refusals;
    if (auto taken = attempt(options_.on_event ? &refusals : nullptr, std::move(claim))) {
      error.clear();
      return detail::lease_from<Lease>(std::move(taken->first), std::move(taken->second));
    }
    error = errc::pool_exhausted;
  } catch (const Error& failure) {
    error = error_code_for(failure);
  }
  return make_empty();
}

template <class LockPolicy, class ProbePolicy>
template <class Lease, class Claim>
std::optional<Lease> BasicPortPoolManager<LockPolicy, ProbePolicy>::try_acquire_claimed(Transport serves,
                                                                                        const char* form, Claim claim) {
  require_transport(serves, form);
  std::vector<Refusal> refusals;
  if (auto taken = attempt(options_.on_event ? &refusals : nullptr, std::move(claim))) {
    return detail::lease_from<Lease>(std::move(taken->first), std::move(taken->second));
  }
  return std::nullopt;
}

template <class LockPolicy, class ProbePolicy>
template <class Lease, class Claim, class Rep, class Period>
Lease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_claimed_for(Transport serves, const char* form,
                                                                         Claim claim,
                                                                         std::chrono::duration<Rep, Period> timeout) {
  require_transport(serves, form);
  auto time_left = detail::time_left_until(detail::deadline_after(timeout));
  if (auto taken = attempt_until(time_left, [this, &claim] { return attempt(nullptr, claim); })) {
    return detail::lease_from<Lease>(std::move(taken->first), std::move(taken->second));
  }
  return acquire_claimed<Lease>(serves, form, std::move(claim));
}

}  // namespace portpool
