#pragma once

/// @file
/// Publisher: the agent that mirrors this host's holders into etcd (`portpool publish`).

#include <portpool/fleet/etcd_options.hpp>
#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/options.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace portpool::fleet {

/// Settings of a Publisher.
struct PublisherOptions {
  EtcdOptions etcd;  ///< how to reach etcd

  /// This host's id in the keys. Empty: /etc/machine-id.
  std::string host_id;

  /// Key prefix (see fleet_holder.hpp).
  std::string prefix = default_prefix;

  /// The session lease's time to live: when the agent dies or loses etcd for longer, its keys
  /// vanish. Renewed every third of it. etcd may raise it to its own minimum.
  std::chrono::seconds ttl{10};

  /// The lock directory to mirror (`lock_dir`, `shared_lock_dir`; the rest is unused).
  Options registry;

  /// The host name or address other hosts reach this host's services at. Empty: the host name.
  std::string address_host;

  /// The longest wait between two attempts to reach etcd (the wait doubles from 100 ms).
  std::chrono::milliseconds max_backoff{std::chrono::seconds(5)};

  /// Called with one line for every session start, lost lease and connection problem, and when
  /// the agent moves from an etcd member that stopped answering to another one (the line names
  /// both). Must not throw.
  std::function<void(const std::string&)> on_log;
};

/// What a Publisher has done so far.
struct PublisherStats {
  std::uint64_t sessions = 0;  ///< leases granted (1 + re-grants after a lost lease)
  std::uint64_t resyncs = 0;   ///< complete resynchronisations with etcd
  std::uint64_t puts = 0;      ///< keys written
  std::uint64_t deletes = 0;   ///< keys deleted (compare-and-swap)
  std::uint64_t failures = 0;  ///< times etcd could not be reached or refused a request
};

/// Mirrors the holders of one lock directory into etcd, under `PREFIX/hosts/HOST/ports/PORT`,
/// all attached to one lease per session. The lock directory is watched with inotify: a key is
/// written as soon as a holder's record appears and deleted (compare-and-swap on its revision)
/// as soon as the record goes or its holder dies. After a lost lease or a lost connection it
/// retries with backoff, then takes a lease again and resynchronises the whole host (writes what
/// is missing or different, deletes what is extra). The local locks stay the only authority:
/// nothing here changes who holds a port.
///
/// Thread safety: run() on one thread; stop(), stats() and host_id() from any thread, at any time.
///
/// @code
/// portpool::fleet::PublisherOptions options;
/// options.etcd.endpoints = {"http://127.0.0.1:2379"};
/// portpool::fleet::Publisher publisher(options);
/// std::thread agent([&] { publisher.run(); });
/// // ...
/// publisher.stop();
/// agent.join();
/// @endcode
class Publisher {
 public:
  /// Checks the options and opens the lock directory (creating it as the library does).
  /// @throws ConfigError on invalid options (host id, prefix, TTL, endpoints, TLS files);
  /// LockDirError when the lock directory is unsafe.
  explicit Publisher(PublisherOptions options);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;
  Publisher(Publisher&&) = delete;
  Publisher& operator=(Publisher&&) = delete;

  /// Publishes until stop(), then revokes the lease (the host's keys vanish at once). etcd being
  /// unreachable or refusing a request (permission denied) is reported through `on_log` and
  /// retried with backoff: the agent outlives etcd outages and fixed permissions.
  void run();

  /// Makes run() return. Async-signal-safe and thread-safe.
  void stop() noexcept;

  /// The host id in use.
  const std::string& host_id() const noexcept;

  /// What the publisher has done so far (thread-safe).
  PublisherStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace portpool::fleet
