#pragma once

/// @file
/// PortPoolManager: takes ports from one service's pool, exclusively across processes.

#include <portpool/detail/config.hpp>
#include <portpool/detail/deadline.hpp>
#include <portpool/error.hpp>
#include <portpool/error_code.hpp>
#include <portpool/holder.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/options.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/probe.hpp>
#include <portpool/refusal.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace portpool {

class ServicePortTable;

class ListeningLease;
class DatagramLease;
class TcpAndUdpLease;

/// Hands out ports of one service's pool as `PortLease`s.
///
/// Each port is tried in pool order: it must not be held by this process (any manager, any
/// thread), its lock file must be free (no other process holds it), and it must pass the probe
/// (by default: no program listens on it, on any local address). Ports that browsers and fetch()
/// refuse are skipped unless `Options::allow_fetch_blocked_ports`. The first port that passes is returned;
/// no port outside the pool is ever returned.
///
/// Thread safety: every member, the acquisitions included, may be called from several threads at
/// once (`Options::on_event` is then called on each of them); only moving and destroying a manager
/// need that no other thread uses it. A policy of your own must allow its try_lock() or check() to
/// be called from several threads at once.
///
/// Descriptors and fork(): with `FileLockPolicy`, the manager keeps the lock files of at most 16
/// ports it released open (unlocked, close-on-exec) and locks them again when it takes those ports
/// anew; it closes them when it is destroyed. After a fork(), neither the parent nor the child uses
/// a lock file kept before it: both open their lock files anew, so the two never share a hold. (A
/// child made by a raw clone() or vfork() runs no fork handler and must only exec.)
///
/// `LockPolicy` makes a port exclusive (default `FileLockPolicy`; the concept is described in
/// <portpool/lock_policy.hpp>), `ProbePolicy` checks that it is usable (default `BindProbe`;
/// `NoProbe` skips the check; the concept is described in <portpool/probe.hpp>).
///
/// @code
/// auto table = portpool::ServicePortTable({/*base*/ 20000, /*stride*/ 10, /*max*/ 4})
///                  .add_instance_pool("api", 0, 3);
/// portpool::Options options;
/// options.instance = 2;
/// portpool::PortPoolManager manager(table, "api", options);
/// portpool::PortLease lease = manager.acquire();  // 20010 if free
/// @endcode
template <class LockPolicy, class ProbePolicy>
class BasicPortPoolManager {
  static_assert(is_lock_policy_v<LockPolicy>,
                "LockPolicy must provide LockAttempt try_lock(const Holder&, bool) const, "
                "const std::filesystem::path& lock_dir() const and a move constructor; see <portpool/lock_policy.hpp>");
  static_assert(is_probe_policy_v<ProbePolicy>,
                "ProbePolicy must provide std::optional<std::string> check(const boost::asio::ip::address&, "
                "std::uint16_t) const and a move constructor; see <portpool/probe.hpp>");

 public:
  /// A manager for `pool`, tried in the given order (whatever `options.instance` is).
  /// @throws ConfigError on an invalid service name or instance id, an empty pool, port 0 or a
  /// repeated port, or instance 0; LockDirError when the lock directory is unsafe or unusable.
  BasicPortPoolManager(std::string service, std::vector<std::uint16_t> pool, Options options = {});

  /// A manager for `pool` whose ports are made exclusive by `locks`, a lock policy configured
  /// beforehand (one that needs more than `Options`, like `fleet::FleetLockPolicy`).
  /// @throws ConfigError as above.
  BasicPortPoolManager(std::string service, std::vector<std::uint16_t> pool, Options options, LockPolicy locks);

  /// A manager for `service`'s pool in `table` (a ServicePortTable: include
  /// <portpool/service_port_table.hpp>, or <portpool/config_file.hpp> to load one), for
  /// `options.instance`. The table is validated. A template only so that a program that does not
  /// use tables does not compile their code.
  /// @throws ConfigError on an invalid table; ArgumentError (a ConfigError) on an unknown service or an
  /// instance out of range;
  /// LockDirError as above.
  template <class Table, std::enable_if_t<std::is_same_v<Table, ServicePortTable>, int> = 0>
  BasicPortPoolManager(const Table& table, std::string service, Options options = {});

  /// Takes the first available port of the pool.
  /// @throws PoolExhausted naming the pool and, for each port, why it was not available (in its
  /// message, and as data in `refusals()`); LockDirError when the lock directory cannot be
  /// written; ResourceError when descriptors run out; Error when a system call fails.
  PortLease acquire();

  /// Like acquire(), but reports a failure through `error` instead of an exception, and returns
  /// an empty lease (`port() == 0`, false as a bool). On success `error` is cleared. The codes:
  /// `errc::pool_exhausted` (PoolExhausted), `errc::lock_dir_error` (LockDirError),
  /// `errc::resource_error` (ResourceError), `errc::system_failure` (any other Error) and, for a
  /// fleet lock policy, `errc::etcd_unavailable` and `errc::etcd_refused`. The refusals of an
  /// exhaustion are not returned: the `exhausted` event (`Options::on_event`) carries them, or
  /// use acquire(). Only std::bad_alloc may still propagate.
  ///
  /// @code
  /// std::error_code error;
  /// portpool::PortLease lease = manager.acquire(error);
  /// if (error == portpool::errc::pool_exhausted) return retry_later();
  /// @endcode
  PortLease acquire(std::error_code& error);

  /// Like acquire(), but an exhausted pool gives an empty optional instead of an exception.
  std::optional<PortLease> try_acquire();

  /// Like acquire(), but when the pool is exhausted, waits for a port of the pool to be released
  /// and tries again, until `timeout` has passed; then tries a last time, as acquire().
  ///
  /// The wait is woken by the release itself: an inotify watch on the lock directory, set up
  /// before the first attempt, reports a holder's lock file being closed (on release(), the end
  /// of a lease, or the holder's death, even by SIGKILL), deleted or replaced; the waiter then
  /// looks at which lock files are locked and tries again. It does not poll, with two exceptions
  /// re-checked every 250 ms: ports free of any holder but refused anyway (another program
  /// listens on them, a fleet claim held by another host, a foreign file at a lock file's name),
  /// and a lock directory where inotify cannot be had (instances or watches run out). Waiters
  /// are served one port each: several waiters and one released port, one of them takes it, the
  /// others keep waiting. A zero or negative timeout is one attempt, as acquire().
  ///
  /// Only the deadline ends the wait (signals do not); several threads may wait on one manager
  /// at once. The wait uses an inotify instance and a descriptor of the lock directory, closed
  /// before it returns. While waiting, only a success is reported to `Options::on_event`; the
  /// last attempt reports as acquire().
  ///
  /// @code
  /// portpool::PortLease lease = manager.acquire_for(std::chrono::seconds(30));
  /// @endcode
  /// @throws as acquire(), once the timeout has passed (PoolExhausted with acquire()'s message).
  template <class Rep, class Period>
  PortLease acquire_for(std::chrono::duration<Rep, Period> timeout);

  /// Like acquire_for(), but waits until `deadline` on `Clock` (read again after every wake).
  template <class Clock, class Duration>
  PortLease acquire_until(std::chrono::time_point<Clock, Duration> deadline);

  /// Like acquire_for(), but an exhausted pool at the deadline gives an empty optional.
  template <class Rep, class Period>
  std::optional<PortLease> try_acquire_for(std::chrono::duration<Rep, Period> timeout);

  /// Like acquire_until(), but an exhausted pool at the deadline gives an empty optional.
  template <class Clock, class Duration>
  std::optional<PortLease> try_acquire_until(std::chrono::time_point<Clock, Duration> deadline);

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

  /// Like acquire_listening(), but reports a failure through `error` instead of an exception, with
  /// the codes of acquire(std::error_code&) (`errc::system_failure` too when the socket cannot
  /// be registered with the executor), and returns an empty lease (its `port()` is 0, its
  /// acceptor closed). On success `error` is cleared. Only std::bad_alloc may still propagate.
  template <class Executor>
  ListeningLease acquire_listening(const Executor& executor, std::error_code& error);

  /// Like acquire_listening(), but an exhausted pool gives an empty optional instead of an
  /// exception.
  template <class Executor>
  std::optional<ListeningLease> try_acquire_listening(const Executor& executor);

  /// Like acquire_listening(), but waits for a port of the pool to be released as acquire_for()
  /// does, until `timeout` has passed.
  /// @throws as acquire_listening(), once the timeout has passed.
  template <class Executor, class Rep, class Period>
  ListeningLease acquire_listening_for(const Executor& executor, std::chrono::duration<Rep, Period> timeout);

  /// Takes a port of a `udp` service's pool as acquire() does, and returns it with a UDP socket
  /// already bound to it on `Options::probe_address` (IPv4 loopback by default), registered with
  /// `executor`. The port is checked free of UDP sockets on every local address of either family,
  /// then bound for real without SO_REUSEADDR, so no other program can bind it beside the lease.
  ///
  /// Defined in <portpool/datagram_lease.hpp> (include it to call this).
  ///
  /// @code
  /// #include <portpool/datagram_lease.hpp>
  /// portpool::Options options;
  /// options.transport = portpool::Transport::udp;
  /// portpool::PortPoolManager manager("discovery", {5350, 5351}, options);
  /// boost::asio::io_context io;
  /// portpool::DatagramLease datagram = manager.acquire_datagram(io.get_executor());
  /// @endcode
  /// @throws ConfigError when the manager's transport is not `udp` (the message names the form to
  /// use); otherwise as acquire(); Error when the socket cannot be registered with the executor.
  template <class Executor>
  DatagramLease acquire_datagram(const Executor& executor);

  /// Like acquire_datagram(), but reports a failure through `error` as acquire_listening(const
  /// Executor&, std::error_code&) does (`errc::config_error` for a service that is not `udp`), and
  /// returns an empty lease (its `port()` is 0, its socket closed).
  template <class Executor>
  DatagramLease acquire_datagram(const Executor& executor, std::error_code& error);

  /// Like acquire_datagram(), but an exhausted pool gives an empty optional instead of an exception.
  template <class Executor>
  std::optional<DatagramLease> try_acquire_datagram(const Executor& executor);

  /// Like acquire_datagram(), but waits for a port of the pool to be released as acquire_for()
  /// does, until `timeout` has passed.
  /// @throws as acquire_datagram(), once the timeout has passed.
  template <class Executor, class Rep, class Period>
  DatagramLease acquire_datagram_for(const Executor& executor, std::chrono::duration<Rep, Period> timeout);

  /// Takes a port of a `both` service's pool, free of TCP listeners and of UDP sockets on every
  /// local address, and returns it with a listening TCP acceptor and a bound UDP socket on
  /// `Options::probe_address`: one port served on both (DNS, QUIC beside its TCP fallback).
  ///
  /// Defined in <portpool/tcp_and_udp_lease.hpp> (include it to call this).
  ///
  /// @code
  /// #include <portpool/tcp_and_udp_lease.hpp>
  /// portpool::Options options;
  /// options.transport = portpool::Transport::both;
  /// portpool::PortPoolManager manager("dns", {5300, 5301}, options);
  /// boost::asio::io_context io;
  /// portpool::TcpAndUdpLease dns = manager.acquire_tcp_and_udp(io.get_executor());
  /// @endcode
  /// @throws ConfigError when the manager's transport is not `both`; otherwise as
  /// acquire_listening().
  template <class Executor>
  TcpAndUdpLease acquire_tcp_and_udp(const Executor& executor);

  /// Like acquire_tcp_and_udp(), but reports a failure through `error` as the error-code form of
  /// acquire_datagram() does, and returns an empty lease (its `port()` is 0, its sockets closed).
  template <class Executor>
  TcpAndUdpLease acquire_tcp_and_udp(const Executor& executor, std::error_code& error);

  /// Like acquire_tcp_and_udp(), but an exhausted pool gives an empty optional instead of an
  /// exception.
  template <class Executor>
  std::optional<TcpAndUdpLease> try_acquire_tcp_and_udp(const Executor& executor);

  /// Like acquire_tcp_and_udp(), but waits for a port of the pool to be released as acquire_for()
  /// does, until `timeout` has passed.
  /// @throws as acquire_tcp_and_udp(), once the timeout has passed.
  template <class Executor, class Rep, class Period>
  TcpAndUdpLease acquire_tcp_and_udp_for(const Executor& executor, std::chrono::duration<Rep, Period> timeout);

  /// The service whose pool this manager hands out.
  const std::string& service() const noexcept { return service_; }

  /// The pool's ports in the order they are tried: as given, or for a manager built from a table,
  /// the table's search_order() for `options.instance`.
  const std::vector<std::uint16_t>& pool() const noexcept { return pool_; }

  /// The options in use: as given, with `instance_id` generated when it was empty; for a manager
  /// built from a table, `allow_fetch_blocked_ports` also set when the table allows them, and the
  /// empty fields of `description` filled from the table's description of the service; `transport`
  /// always set (from the table, else `tcp`, when it was unset).
  const Options& options() const noexcept { return options_; }

  /// Which socket types the pool's ports are free and held for (`Options::transport`).
  Transport transport() const noexcept { return *options_.transport; }

  /// The lock policy's lock directory: for FileLockPolicy, `Options::lock_dir`, or
  /// `default_lock_dir()` (read when the manager was built) when that was empty.
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
  template <class Executor>
  auto datagram_claim(const Executor& executor);
  template <class Executor>
  auto tcp_and_udp_claim(const Executor& executor);

  // The acquisitions that hand out sockets (listening, datagram, TCP and UDP) in their four forms:
  // each checks that the manager's transport is `serves`, then builds `Lease` from the PortLease
  // and what `claim` obtained (detail::lease_from).
  void require_transport(Transport serves, const char* form) const;
  template <class Lease, class Claim>
  Lease acquire_claimed(Transport serves, const char* form, Claim claim);
  template <class Lease, class Claim, class MakeEmpty>
  Lease acquire_claimed(Transport serves, const char* form, Claim claim, std::error_code& error, MakeEmpty make_empty);
  template <class Lease, class Claim>
  std::optional<Lease> try_acquire_claimed(Transport serves, const char* form, Claim claim);
  template <class Lease, class Claim, class Rep, class Period>
  Lease acquire_claimed_for(Transport serves, const char* form, Claim claim,
                            std::chrono::duration<Rep, Period> timeout);

  template <class Claim>
  using ClaimResult = typename std::invoke_result_t<Claim&, std::uint16_t, std::string&>::value_type;

  template <class Claim>
  auto attempt(std::vector<Refusal>* refusals, Claim claim) -> std::optional<std::pair<PortLease, ClaimResult<Claim>>>;

  template <class Claim>
  LockAttempt take(const Holder& holder, bool explain, Claim& claim, std::optional<ClaimResult<Claim>>& claimed);

  std::string exhaustion_message(const std::vector<Refusal>& refusals) const;

  // Runs `attempt_quietly` (an attempt() without explanations) until it succeeds or `time_left`
  // is zero, waiting between two attempts for a port of the pool to be released; nullopt at the
  // deadline, where the caller makes its last, explained attempt.
  template <class Attempt>
  auto attempt_until(const detail::TimeLeft& time_left, Attempt attempt_quietly) -> decltype(attempt_quietly());

  // acquire_until() and try_acquire_until() before their last attempt: the port, or nullopt once
  // `time_left` is zero. Not a template, so that separate compilation compiles it once.
  std::optional<PortLease> acquire_waiting(const detail::TimeLeft& time_left);

  std::string service_;
  std::vector<std::uint16_t> pool_;
  Options options_;
  LockPolicy locks_;
  ProbePolicy probe_;
};

/// The manager with the default policies: lock files in the lock directory and a bind probe.
using PortPoolManager = BasicPortPoolManager<FileLockPolicy, BindProbe>;

#if defined(PORTPOOL_SEPARATE_COMPILATION)
// Compiled once, by the unit that includes <portpool/src.hpp>. A manager with other policies
// needs the bodies: include <portpool/impl/port_pool_manager.hpp> where it is built.
extern template class BasicPortPoolManager<FileLockPolicy, BindProbe>;
#endif

}  // namespace portpool

#include <portpool/impl/port_pool_manager_inline.hpp>
#if !defined(PORTPOOL_SEPARATE_COMPILATION)
#include <portpool/impl/port_pool_manager.hpp>
#endif
