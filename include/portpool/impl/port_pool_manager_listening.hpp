#pragma once

// The bodies of BasicPortPoolManager's listening acquisitions. Only listening_lease.hpp includes
// this file, at its end, after ListeningLease: the claim binds and listens on the locked port,
// through the same attempt() as acquire(). They live apart so that the manager's header needs no
// Boost.Asio.

#include <portpool/impl/listening_acceptor.hpp>
#include <portpool/impl/port_pool_manager_claimed.hpp>
#include <portpool/port_pool_manager.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

namespace portpool {

template <class LockPolicy, class ProbePolicy>
template <class Executor>
auto BasicPortPoolManager<LockPolicy, ProbePolicy>::listen_claim(const Executor& executor) {
  return [this, executor = boost::asio::any_io_executor(executor)](
             std::uint16_t port, std::string& refusal) -> std::optional<boost::asio::ip::tcp::acceptor> {
    return detail::open_listening_acceptor(executor, options_.probe_address, port, refusal);
  };
}

template <class LockPolicy, class ProbePolicy>
template <class Executor>
ListeningLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_listening(const Executor& executor) {
  return acquire_claimed<ListeningLease>(Transport::tcp, "acquire_listening()", listen_claim(executor));
}

template <class LockPolicy, class ProbePolicy>
template <class Executor>
ListeningLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_listening(const Executor& executor,
                                                                                std::error_code& error) {
  return acquire_claimed<ListeningLease>(
      Transport::tcp, "acquire_listening()", listen_claim(executor), error,
      [&executor] { return ListeningLease(PortLease(), boost::asio::ip::tcp::acceptor(executor)); });
}

template <class LockPolicy, class ProbePolicy>
template <class Executor>
std::optional<ListeningLease> BasicPortPoolManager<LockPolicy, ProbePolicy>::try_acquire_listening(
    const Executor& executor) {
  return try_acquire_claimed<ListeningLease>(Transport::tcp, "acquire_listening()", listen_claim(executor));
}

template <class LockPolicy, class ProbePolicy>
template <class Executor, class Rep, class Period>
ListeningLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_listening_for(
    const Executor& executor, std::chrono::duration<Rep, Period> timeout) {
  return acquire_claimed_for<ListeningLease>(Transport::tcp, "acquire_listening()", listen_claim(executor), timeout);
}

}  // namespace portpool
