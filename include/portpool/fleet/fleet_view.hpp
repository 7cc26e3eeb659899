#pragma once

/// @file
/// Reading the fleet registry: every host's holders, once or as a stream of changes.

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_holder.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace portpool::fleet {

/// Every host's holders at one revision of etcd.
struct FleetSnapshot {
  std::vector<FleetHolder> holders;   ///< sorted by host, then port
  std::int64_t revision = 0;          ///< the etcd revision the holders were read at
  std::vector<std::string> rejected;  ///< why each invalid record found was ignored
};

/// One change of the fleet registry.
struct FleetChange {
  std::string host;                   ///< the host whose holder changed
  std::uint16_t port = 0;             ///< the port that changed hands
  std::optional<FleetHolder> holder;  ///< the new holder; empty when the port was released
  std::int64_t revision = 0;          ///< the etcd revision of the change
};

/// Every holder under `prefix`, sorted by host and port. Invalid records are skipped and listed
/// in `rejected`.
/// @throws EtcdUnavailable, EtcdError as EtcdClient.
FleetSnapshot read_fleet(EtcdClient& etcd, const std::string& prefix);

/// Follows the fleet registry: lists it at a revision, then watches from the next one, and lists
/// again when etcd compacted the history the watch needed or the connection was lost.
///
/// Thread safety: run() on one thread; stop() from any.
class FleetFollower {
 public:
  /// What the follower calls, on the thread that runs run(); any of them may be empty.
  struct Callbacks {
    std::function<void(const FleetSnapshot&)> on_snapshot;  ///< a complete listing (first, and after a gap)
    std::function<void(const FleetChange&)> on_change;      ///< each change after a listing
    std::function<void(const std::string&)> on_problem;     ///< an invalid record, a lost watch (then retried)
  };

  /// A follower of the holders under `prefix`, read through `etcd` (which must outlive it).
  FleetFollower(EtcdClient& etcd, std::string prefix, Callbacks callbacks);

  /// Runs until stop(). @throws EtcdUnavailable, EtcdError when the first listing fails.
  void run();

  /// Makes run() return soon. Thread-safe.
  void stop();

 private:
  bool follow_from(std::int64_t revision);
  void handle(const WatchEvent& event, std::int64_t revision);
  bool stopped();

  EtcdClient& etcd_;
  std::string prefix_;
  Callbacks callbacks_;
  std::mutex mutex_;
  bool stopped_ = false;
  EtcdWatch* watch_ = nullptr;
};

}  // namespace portpool::fleet
