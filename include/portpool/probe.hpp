#pragma once

/// @file
/// Probe policies: how a manager checks that a locked port is really free.
///
/// The ProbePolicy concept (the second parameter of BasicPortPoolManager): a policy `P` provides
///
/// - `std::optional<std::string> P::check(const IpAddress& address, std::uint16_t port) const`:
///   called with the port already locked (`address` is `Options::probe_address`); nullopt when
///   the port can be handed out, else why not (the text goes into the skip event and the
///   PoolExhausted message, as the detail of a refusal with `RefusalReason::in_use`). May throw the
///   library's errors (ResourceError when out of descriptors); the port is then unlocked and
///   nothing is held. Called from several threads at once when the manager is.
/// - Optionally `std::optional<std::string> P::check(const IpAddress& address, std::uint16_t port,
///   Transport transport) const`: the same question for the manager's `Options::transport`. A
///   manager calls this form when the policy has it; a policy without it is asked the two-argument
///   form whatever the transport.
/// - Move construction (the manager owns its policy).
///
/// `is_probe_policy_v<P>` tells whether `P` provides these; BasicPortPoolManager checks it with a
/// static_assert that names what is missing.
///
/// Models: BindProbe (the default) and NoProbe, below. `acquire_listening` does not call the
/// probe: binding the listening socket is its own check.

#include <portpool/detail/config.hpp>
#include <portpool/detail/detection.hpp>
#include <portpool/ip_address.hpp>
#include <portpool/transport.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace portpool {

/// The default probe: a port passes when no program listens on it on any local address of either
/// family (127.0.0.0/8, ::1, the wildcards, interface addresses), which one bind of a dual-stack
/// socket to [::] tells; when `address` is neither a loopback nor a wildcard address, the port
/// must also be bindable there. A port that fails is skipped with the reason, naming each
/// listener as the shield names a foreign one ("in use by a program outside portpool, which
/// listens on [::1]:6001 (socket inode 1234)").
///
/// Thread safety: check() may be called from several threads at once.
struct BindProbe {
  /// Why `port` cannot be used, or nullopt when it can.
  /// @throws ResourceError when no socket can be created (descriptors or memory exhausted).
  std::optional<std::string> check(const IpAddress& address, std::uint16_t port) const;

  /// Why `port` cannot be used for `transport`, or nullopt when it can: for `udp`, a port passes
  /// when no UDP socket is bound to it on any local address of either family ("in use by a program
  /// outside portpool, which has a UDP socket bound to 0.0.0.0:5353 (socket inode 1234)"); for
  /// `both`, when it passes for TCP and for UDP.
  /// @throws ResourceError when no socket can be created (descriptors or memory exhausted).
  std::optional<std::string> check(const IpAddress& address, std::uint16_t port, Transport transport) const;
};

/// A probe that accepts every locked port: for pools whose ports are never bound on this machine
/// (or bound by a launcher that reports its own errors).
///
/// Thread safety: check() may be called from several threads at once.
struct NoProbe {
  /// Always nullopt: every port can be handed out.
  std::optional<std::string> check(const IpAddress& /*address*/, std::uint16_t /*port*/) const { return std::nullopt; }
};

namespace detail {

template <class Policy>
using probe_transport_check_result = decltype(std::declval<const Policy&>().check(
    std::declval<const IpAddress&>(), std::declval<std::uint16_t>(), std::declval<Transport>()));

/// `probe`'s verdict on `port` for `transport`, through the form of check() it has.
template <class Policy>
std::optional<std::string> probe_check(const Policy& probe, const IpAddress& address, std::uint16_t port,
                                       Transport transport) {
  if constexpr (!std::is_same_v<detected_t<probe_transport_check_result, Policy>, Undetected>) {
    return probe.check(address, port, transport);
  } else {
    return probe.check(address, port);
  }
}

template <class Policy>
using probe_check_result =
    decltype(std::declval<const Policy&>().check(std::declval<const IpAddress&>(), std::declval<std::uint16_t>()));

}  // namespace detail

/// Whether `Policy` models the ProbePolicy concept described at the top of this header.
///
/// @code
/// static_assert(portpool::is_probe_policy_v<portpool::BindProbe>);
/// @endcode
template <class Policy>
inline constexpr bool is_probe_policy_v = std::conjunction_v<
    std::is_convertible<detail::detected_t<detail::probe_check_result, Policy>, std::optional<std::string>>,
    std::is_move_constructible<Policy>>;

}  // namespace portpool

#if !defined(PORTPOOL_SEPARATE_COMPILATION)
#include <portpool/impl/probe.ipp>
#endif
