#pragma once

/// @file
/// EtcdClient: the etcd v3 calls the fleet layer makes (KV, Lease, Watch), over gRPC.

#include <portpool/fleet/etcd_options.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace portpool::fleet {

/// One key of etcd, as stored at some revision.
struct KeyValue {
  std::string key;                   ///< the key, bytes as etcd stores them
  std::string value;                 ///< the value, bytes as etcd stores them
  std::int64_t create_revision = 0;  ///< the store's revision when the key was created
  std::int64_t mod_revision = 0;     ///< the store's revision when the key was last written
  std::int64_t lease = 0;            ///< the lease the key is attached to; 0 for none
};

/// The keys under a prefix, and the store's revision they were read at.
struct RangeResult {
  std::vector<KeyValue> values;  ///< sorted by key
  std::int64_t revision = 0;     ///< the store's revision the keys were read at
};

/// A lease granted by etcd: keys attached to it are deleted when it expires or is revoked.
struct LeaseGrant {
  std::int64_t id = 0;          ///< the lease's id, for keep-alives, attaching keys and revoking
  std::chrono::seconds ttl{0};  ///< what etcd granted, which may differ from what was asked
};

/// One change seen by a watch.
struct WatchEvent {
  /// Whether the key was written or deleted.
  enum class Type { put, deleted };
  Type type = Type::put;  ///< what happened to the key
  KeyValue value;         ///< for `deleted`, only `key` and `mod_revision` are meaningful
};

/// What one watch response carried.
struct WatchBatch {
  std::vector<WatchEvent> events;     ///< in the order of their revisions
  std::int64_t revision = 0;          ///< the store's revision when the response was sent
  std::int64_t compact_revision = 0;  ///< non-zero: the watch started before this compacted revision
  bool canceled = false;              ///< etcd ended the watch (see `cancel_reason`)
  std::string cancel_reason;          ///< etcd's words for why it ended the watch
};

/// A running watch of a key prefix. next() blocks; cancel() may be called from another thread.
class EtcdWatch {
 public:
  virtual ~EtcdWatch() = default;
  EtcdWatch() = default;
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;
  EtcdWatch(EtcdWatch&&) = delete;
  EtcdWatch& operator=(EtcdWatch&&) = delete;

  /// The next batch of changes. False when the watch ended: cancelled, or the connection was lost
  /// (then `error()` says why).
  virtual bool next(WatchBatch& batch) = 0;

  /// Ends the watch: a blocked next() returns false. Thread-safe.
  virtual void cancel() = 0;

  /// Why the watch ended, empty when it was cancelled or has not ended.
  virtual std::string error() const = 0;
};

/// A client of one etcd cluster. Each call goes to the current endpoint and, when that one cannot
/// be reached, to the next ones in turn; thread-safe.
///
/// @code
/// portpool::fleet::EtcdClient etcd(options);
/// auto lease = etcd.grant_lease(std::chrono::seconds(10));
/// etcd.put("/portpool/v1/hosts/a/ports/9000", value, lease.id);
/// @endcode
/// Every call throws EtcdUnavailable when no endpoint answers and EtcdError when etcd refuses
/// the request (permission denied, authentication failed).
class EtcdClient {
 public:
  /// Checks the options and prepares channels; connects lazily.
  /// @throws ConfigError on an endpoint that is not a URL, or unreadable TLS files.
  explicit EtcdClient(EtcdOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;
  /// Takes over `other`'s connections; `other` can then only be destroyed or assigned to.
  EtcdClient(EtcdClient&& other) noexcept;
  /// Takes over `other`'s connections, closing this client's own.
  EtcdClient& operator=(EtcdClient&& other) noexcept;

  /// Every key that starts with `prefix`, sorted by key, at the latest revision.
  RangeResult range_prefix(const std::string& prefix);

  /// Writes `key` (attached to `lease` unless it is 0); returns the revision of the write, which
  /// is the key's new mod_revision.
  std::int64_t put(const std::string& key, const std::string& value, std::int64_t lease = 0);

  /// Writes `key` only when it does not exist (create_revision == 0), atomically. The key is
  /// attached to `lease`. Returns the write's revision, or nullopt when the key exists.
  std::optional<std::int64_t> create(const std::string& key, const std::string& value, std::int64_t lease);

  /// Deletes `key` only if it was last modified at `mod_revision` (compare-and-swap), so a late
  /// delete never removes a successor's key. True when it was deleted.
  bool delete_if_unchanged(const std::string& key, std::int64_t mod_revision);

  /// Deletes `key` unconditionally; true when it existed.
  bool delete_key(const std::string& key);

  /// A new lease of `ttl` (etcd may raise it to its minimum).
  LeaseGrant grant_lease(std::chrono::seconds ttl);

  /// Renews `lease` once; the TTL left afterwards, 0 when the lease no longer exists.
  std::chrono::seconds keep_alive(std::int64_t lease);

  /// Revokes `lease`: its keys are deleted now. Revoking a lease that is gone is not an error.
  void revoke_lease(std::int64_t lease);

  /// Watches every key under `prefix`, starting at `start_revision` (0: from now).
  std::unique_ptr<EtcdWatch> watch_prefix(const std::string& prefix, std::int64_t start_revision);

  /// The endpoint calls currently go to.
  std::string current_endpoint() const;

  /// The id of the cluster that answered the last call (0 before any answer). An etcd recreated
  /// without its data answers under a new id.
  std::uint64_t cluster_id() const noexcept;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

/// Drops the diagnostics that the gRPC library prints to standard error by itself (a TLS handshake
/// that failed, a connection refused): for command-line programs, whose errors already say what
/// failed. Affects every use of gRPC in the process.
void quiet_transport_log();

/// The end of the range of keys that start with `prefix` (etcd's range_end for a prefix).
std::string prefix_range_end(const std::string& prefix);

}  // namespace portpool::fleet
