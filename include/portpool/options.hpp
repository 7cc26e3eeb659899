#pragma once

/// @file
/// Options shared by the managers, and the structured events they report.

#include <portpool/holder.hpp>
#include <portpool/ip_address.hpp>
#include <portpool/refusal.hpp>
#include <portpool/service_description.hpp>
#include <portpool/transport.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace portpool {

/// What happened, for the optional event callback.
enum class EventKind {
  acquired,   ///< a port was taken
  skipped,    ///< a pool port was passed over; `message` says why, `reason` and `holder` too
  released,   ///< a port was given back
  exhausted,  ///< no port of the pool could be taken; `message` is the full explanation, `refusals` the data
};

/// One structured event. portpool prints nothing itself; route these to your logger.
///
/// @code
/// options.on_event = [](const portpool::Event& event) {
///   if (event.kind == portpool::EventKind::skipped && event.reason == portpool::RefusalReason::in_use)
///     std::clog << "port " << event.port << " is taken by another program\n";
/// };
/// @endcode
struct Event {
  /// What happened.
  EventKind kind;
  /// The service whose pool or lease it happened to.
  std::string service;
  std::uint16_t port = 0;  ///< 0 for `exhausted`
  /// What happened in words, ready for a log line ("acquired port 9000 for 'api'", "skipped port
  /// 9001: ..."); for `exhausted`, the PoolExhausted message.
  std::string message;
  /// Why the port was passed over: set for `skipped`, empty for the other kinds.
  std::optional<RefusalReason> reason;
  /// For `skipped` with reason `held`: the holder, as its record names it (empty otherwise).
  std::optional<Holder> holder;
  /// For `exhausted`: why each port of the pool was passed over, as PoolExhausted::refusals()
  /// gives it (empty for the other kinds).
  std::vector<Refusal> refusals;
};

/// Settings of a manager. A default-constructed Options works: set the fields you need.
///
/// @code
/// portpool::Options options;
/// options.instance = 2;
/// options.on_event = [](const portpool::Event& e) { std::clog << e.message << '\n'; };
/// @endcode
struct Options {
  /// Where lock files and holder records live. Empty: `$PORTPOOL_LOCK_DIR` if set, else
  /// `$XDG_RUNTIME_DIR/portpool`, else `/tmp/portpool-<uid>`. Created with mode 0700.
  std::filesystem::path lock_dir;

  /// Allow a lock directory that other users may write to (group/world-writable or owned by
  /// another user). Only for a directory deliberately shared between users: any of them can then
  /// hold or block ports of the others.
  bool shared_lock_dir = false;

  /// This application's instance number N (1-based): selects the instance-relative pools and the
  /// starting index in shared pools.
  unsigned instance = 1;

  /// Free-form identity of this running copy, recorded next to each lock. Empty: generated from
  /// the process id and a random suffix.
  std::string instance_id;

  /// The address `acquire_listening()` listens on. A port is handed out only when no program
  /// listens on it on any local address; when this address is neither a loopback nor a wildcard
  /// address, the port must also be bindable on it.
  IpAddress probe_address = IpAddress::loopback_v4();

  /// Which socket types the ports are free and held for: `tcp` (no program may listen on the
  /// port), `udp` (no UDP socket may be bound to it) or `both`. Unset: the table's transport of
  /// the service for a manager built from a table (`transport = "udp"` in TOML), else `tcp`. The
  /// lock is one per port number whatever the transport, so a TCP and a UDP service drawing from
  /// one range never get the same port. Recorded in the holder record (`Holder::transport`).
  std::optional<Transport> transport;
  /// The process the ports are taken for, when this process is a helper acting for it (as
  /// `portpool lease` acts for the program that started it): recorded as `Holder::application_pid`
  /// and shown as the holder by `status`, the exhaustion message and the other views. The lock
  /// stays this process's (its death frees the port). 0: this process takes them for itself. A
  /// negative value is a ConfigError.
  pid_t application_pid = 0;
  /// Hand out ports that browsers and `fetch()` refuse to connect to (see
  /// `is_fetch_blocked_port()`, e.g. 6000). Off by default: such ports are skipped with the
  /// reason. A manager built from a table also allows them when the table says so for the service.
  bool allow_fetch_blocked_ports = false;

  /// What the service serves on the ports it takes (protocol, health path, version, tags,
  /// metadata), published in each holder record for `Registry` readers. A manager built from a
  /// table fills the fields left empty from the table's description of the service. Checked when
  /// the manager is built (ConfigError).
  ServiceDescription description;

  /// Called for every acquisition, skipped port, release and exhaustion, on the thread that
  /// caused it. Must not throw; an exception it throws is ignored.
  std::function<void(const Event&)> on_event;
};

}  // namespace portpool
