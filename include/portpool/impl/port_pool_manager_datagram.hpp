#pragma once

// The bodies of BasicPortPoolManager's datagram acquisitions. Only datagram_lease.hpp includes
// this file, at its end, after DatagramLease.

#include <portpool/impl/datagram_socket.hpp>
#include <portpool/impl/port_pool_manager_claimed.hpp>
#include <portpool/port_pool_manager.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

namespace portpool {

template <class LockPolicy, class ProbePolicy>
template <class Executor>
auto BasicPortPoolManager<LockPolicy, ProbePolicy>::datagram_claim(const Executor& executor) {
  return [this, executor = boost::asio::any_io_executor(executor)](
             std::uint16_t port, std::string& refusal) -> std::optional<boost::asio::ip::udp::socket> {
    return detail::open_bound_datagram_socket(executor, options_.probe_address, port, refusal);
  };
}

template <class LockPolicy, class ProbePolicy>
template <class Executor>
DatagramLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_datagram(const Executor& executor) {
  return acquire_claimed<DatagramLease>(Transport::udp, "acquire_datagram()", datagram_claim(executor));
}

template <class LockPolicy, class ProbePolicy>
template <class Executor>
DatagramLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_datagram(const Executor& executor,
                                                                              std::error_code& error) {
  return acquire_claimed<DatagramLease>(
      Transport::udp, "acquire_datagram()", datagram_claim(executor), error,
      [&executor] { return DatagramLease(PortLease(), boost::asio::ip::udp::socket(executor)); });
}

template <class LockPolicy, class ProbePolicy>
template <class Executor>
std::optional<DatagramLease> BasicPortPoolManager<LockPolicy, ProbePolicy>::try_acquire_datagram(
    const Executor& executor) {
  return try_acquire_claimed<DatagramLease>(Transport::udp, "acquire_datagram()", datagram_claim(executor));
}

template <class LockPolicy, class ProbePolicy>
template <class Executor, class Rep, class Period>
DatagramLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_datagram_for(
    const Executor& executor, std::chrono::duration<Rep, Period> timeout) {
  return acquire_claimed_for<DatagramLease>(Transport::udp, "acquire_datagram()", datagram_claim(executor), timeout);
}

}  // namespace portpool
