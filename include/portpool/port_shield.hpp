#pragma once

/// @file
/// PortShield: watches a held port and says when the hold has been lost or undermined.

#include <portpool/error.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/shield_options.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <functional>
#include <memory>

namespace portpool {

namespace detail {
class ShieldState;
}  // namespace detail

/// Watches a held port and calls back, once, when the hold is lost or undermined.
///
/// A lease is only as good as its lock file and the port's sockets. The shield reports, with a
/// `LostReason`:
/// - the lock file deleted (`lock_file_removed`) or replaced by another file
///   (`lock_file_replaced`): the path no longer names the device and inode that were locked, so
///   another process can lock "the" file and take the port. Seen at once through inotify on the
///   lock directory (shared by every shield on the same execution context), and by polling;
/// - the lock directory renamed, replaced by another directory or deleted
///   (`lock_directory_moved`): its path no longer names the directory the lock file is in, so other
///   processes lock in another directory and can take the port. Seen at once through the same
///   inotify watch (events on the directory itself); a rename of a directory above it, by polling,
///   every `interval`;
/// - another process using the port for a transport the lease holds it for (`foreign_listener`), on
///   any address, IPv4 or IPv6: for a `tcp` lease a socket listening on it, for a `udp` lease a UDP
///   socket bound to it, for `both` either (`PortLease::transport()`). Read from the kernel's socket
///   tables (sock_diag, else /proc/net/tcp{,6} and /proc/net/udp{,6}) every `interval`; the UDP
///   table only when the lease uses UDP, so a `tcp` lease's shield costs what it always did. A
///   socket is ours when it is the `ListeningLease`'s acceptor or is open in this process or in one
///   of `ShieldOptions::listener_processes` (or their trees); any other is foreign. The message
///   says which kind was found ("listens on", "has a UDP socket bound to"): the reason is the same,
///   since the remedy is (stop that program or move the service). A TCP listener on a port held
///   for UDP alone, or a UDP socket on one held for TCP alone, is not a loss;
/// - with `ShieldOptions::expect_listener`, the service's own socket missing once `grace` has
///   passed (`listener_gone`): its listener for TCP, its bound UDP socket for UDP, both for `both`.
///
/// The callback runs on the shield's strand, at most once: after reporting, the shield stops
/// watching (create a new shield for a new lease). It must not throw; an exception it throws is
/// ignored. It may call stop() or destroy the shield. Once stop() has returned, or the shield has
/// been destroyed, the callback is not running and never runs, even with checks still queued on
/// the executor.
///
/// All work runs on a strand of `executor`, one short check at a time: the executor's threads
/// (one or many) are never blocked longer than one check. Destroy shields before their
/// execution context.
///
/// The lease must outlive the shield: stop the shield before releasing, moving or destroying the
/// lease (a released port is free, and another holder's listener on it would be reported). A `udp`
/// lease holds the lock only: the service's own UDP socket on the port, opened in this process or
/// in a process named in the options, is ours.
///
/// A process that sets SO_REUSEPORT on its socket lets another process of the same user listen on
/// the same address and port beside it; the shield reports that other socket as foreign, which it
/// is. Sockets in other network namespaces are not visible in this process's tables.
///
/// Thread safety: stop() may be called from any thread, from several at once, and while a check
/// or the callback runs; move assignment and destruction need that no other thread uses the shield.
///
/// @code
/// boost::asio::io_context io;
/// auto listening = manager.acquire_listening(io.get_executor());
/// portpool::PortShield shield(io.get_executor(), listening, [&](const portpool::ShieldEvent& lost) {
///   log(lost.message);
///   shut_down();
/// });
///
/// // A datagram service: a manager whose transport is udp (`transport = "udp"` in its table).
/// auto lease = dns_manager.acquire();
/// boost::asio::ip::udp::socket socket(io, {boost::asio::ip::udp::v6(), lease.port()});
/// portpool::PortShield dns_shield(io.get_executor(), lease, on_lost);  // reports other programs' UDP sockets
/// @endcode
class PortShield {
 public:
  /// Starts watching `lease` at once (the first check is queued on `executor`), for the transport
  /// it is held for (`lease.transport()`). Without a listening socket, any listener on the port
  /// (for `udp`: any UDP socket bound to it) not open in this process (nor in
  /// `options.listener_processes`) is foreign.
  /// @throws ConfigError when the lease holds no port or the options are invalid (interval not
  /// positive, negative grace).
  PortShield(const boost::asio::any_io_executor& executor, const PortLease& lease,
             std::function<void(const ShieldEvent&)> on_lost, ShieldOptions options = {});

  /// Starts watching a `ListeningLease`: its acceptor is known exactly (by socket inode), and
  /// with `expect_listener`, `listener_gone` means that this acceptor was closed or no longer
  /// listens (even if another socket of this process took its place). TCP is watched whatever the
  /// lease's transport (the acceptor is a TCP socket); UDP too when the transport uses it.
  /// @throws ConfigError as above, or when the acceptor is closed.
  PortShield(const boost::asio::any_io_executor& executor, const ListeningLease& lease,
             std::function<void(const ShieldEvent&)> on_lost, ShieldOptions options = {});

  PortShield(const PortShield&) = delete;
  PortShield& operator=(const PortShield&) = delete;
  /// Takes over the watch of the shield moved from, which then watches nothing.
  PortShield(PortShield&&) noexcept = default;
  /// Stops this shield (see stop()), then takes over `other`'s watch.
  PortShield& operator=(PortShield&& other) noexcept;  // NOLINT(bugprone-exception-escape): as stop()

  /// Stops watching (see stop()).
  ~PortShield();  // NOLINT(bugprone-exception-escape): as stop()

  /// Stops watching. When it returns, the callback is not running and will never run, except
  /// when called from inside the callback, which it then lets finish. Idempotent; callable from
  /// any thread; never throws.
  void stop() noexcept;  // NOLINT(bugprone-exception-escape): ShieldState::stop cannot throw

 private:
  std::shared_ptr<detail::ShieldState> state_;
};

}  // namespace portpool

#include <portpool/impl/port_shield.hpp>
