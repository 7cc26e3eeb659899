#pragma once

// The bodies of BasicPortPoolManager's TCP-and-UDP acquisitions. Only tcp_and_udp_lease.hpp
// includes this file, at its end, after TcpAndUdpLease. The claim listens first, then binds the
// UDP socket: a port whose UDP side is taken is refused with that reason, and its acceptor closed.

#include <portpool/impl/datagram_socket.hpp>
#include <portpool/impl/listening_acceptor.hpp>
#include <portpool/impl/port_pool_manager_claimed.hpp>
#include <portpool/port_pool_manager.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <tuple>

namespace portpool {

template <class LockPolicy, class ProbePolicy>
template <class Executor>
auto BasicPortPoolManager<LockPolicy, ProbePolicy>::tcp_and_udp_claim(const Executor& executor) {
  using Sockets = std::tuple<boost::asio::ip::tcp::acceptor, boost::asio::ip::udp::socket>;
  return [this, executor = boost::asio::any_io_executor(executor)](std::uint16_t port,
                                                                   std::string& refusal) -> std::optional<Sockets> {
    auto acceptor = detail::open_listening_acceptor(executor, options_.probe_address, port, refusal);
    if (!acceptor) {
      return std::nullopt;
    }
    auto socket = detail::open_bound_datagram_socket(executor, options_.probe_address, port, refusal);
    if (!socket) {
      return std::nullopt;
    }
    return Sockets(std::move(*acceptor), std::move(*socket));
  };
}

template <class LockPolicy, class ProbePolicy>
template <class Executor>
TcpAndUdpLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_tcp_and_udp(const Executor& executor) {
  return acquire_claimed<TcpAndUdpLease>(Transport::both, "acquire_tcp_and_udp()", tcp_and_udp_claim(executor));
}

template <class LockPolicy, class ProbePolicy>
template <class Executor>
TcpAndUdpLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_tcp_and_udp(const Executor& executor,
                                                                                  std::error_code& error) {
  return acquire_claimed<TcpAndUdpLease>(Transport::both, "acquire_tcp_and_udp()", tcp_and_udp_claim(executor), error,
                                         [&executor] {
                                           return TcpAndUdpLease(PortLease(), boost::asio::ip::tcp::acceptor(executor),
                                                                 boost::asio::ip::udp::socket(executor));
                                         });
}

template <class LockPolicy, class ProbePolicy>
template <class Executor>
std::optional<TcpAndUdpLease> BasicPortPoolManager<LockPolicy, ProbePolicy>::try_acquire_tcp_and_udp(
    const Executor& executor) {
  return try_acquire_claimed<TcpAndUdpLease>(Transport::both, "acquire_tcp_and_udp()", tcp_and_udp_claim(executor));
}

template <class LockPolicy, class ProbePolicy>
template <class Executor, class Rep, class Period>
TcpAndUdpLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_tcp_and_udp_for(
    const Executor& executor, std::chrono::duration<Rep, Period> timeout) {
  return acquire_claimed_for<TcpAndUdpLease>(Transport::both, "acquire_tcp_and_udp()", tcp_and_udp_claim(executor),
                                             timeout);
}

}  // namespace portpool
