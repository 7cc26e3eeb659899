#include <portpool/fleet/fleet_view.hpp>

#include <portpool/fleet/fleet_error.hpp>

#include <algorithm>
#include <chrono>
#include <thread>
#include <tuple>
#include <utility>

namespace portpool::fleet {

FleetSnapshot read_fleet(EtcdClient& etcd, const std::string& prefix) {
  auto range = etcd.range_prefix(hosts_prefix(prefix));
  FleetSnapshot snapshot;
  snapshot.revision = range.revision;
  snapshot.holders.reserve(range.values.size());
  for (const auto& value : range.values) {
    try {
      snapshot.holders.push_back(decode_holder(prefix, value.key, value.value));
    } catch (const InvalidFleetRecord& error) {
      snapshot.rejected.emplace_back(error.what());
    }
  }
  std::sort(snapshot.holders.begin(), snapshot.holders.end(), [](const FleetHolder& a, const FleetHolder& b) {
    return std::tie(a.host, a.port) < std::tie(b.host, b.port);
  });
  return snapshot;
}

FleetFollower::FleetFollower(EtcdClient& etcd, std::string prefix, Callbacks callbacks)
    : etcd_(etcd), prefix_(std::move(prefix)), callbacks_(std::move(callbacks)) {}

void FleetFollower::run() {
  bool first = true;
  auto pause = std::chrono::milliseconds(100);
  while (!stopped()) {
    FleetSnapshot snapshot;
    try {
      snapshot = read_fleet(etcd_, prefix_);
    } catch (const Error& error) {
      if (first) {
        throw;
      }
      callbacks_.on_problem(std::string(error.what()) + "; retrying");
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(5000));
      continue;
    }
    first = false;
    pause = std::chrono::milliseconds(100);
    for (const auto& rejected : snapshot.rejected) {
      callbacks_.on_problem(rejected);
    }
    callbacks_.on_snapshot(snapshot);
    if (!follow_from(snapshot.revision + 1)) {
      std::this_thread::sleep_for(pause);
    }
  }
}

void FleetFollower::stop() {
  std::lock_guard guard(mutex_);
  stopped_ = true;
  if (watch_ != nullptr) {
    watch_->cancel();
  }
}

bool FleetFollower::stopped() {
  std::lock_guard guard(mutex_);
  return stopped_;
}

// Watches from `revision` until the watch ends; true when it ended because the history it needed
// was compacted (list again at once), false when the connection was lost or it was stopped.
bool FleetFollower::follow_from(std::int64_t revision) {
  std::unique_ptr<EtcdWatch> watch;
  try {
    watch = etcd_.watch_prefix(hosts_prefix(prefix_), revision);
  } catch (const Error& error) {
    callbacks_.on_problem(std::string(error.what()) + "; retrying");
    return false;
  }
  {
    std::lock_guard guard(mutex_);
    if (stopped_) {
      return false;
    }
    watch_ = watch.get();
  }
  bool compacted = false;
  WatchBatch batch;
  while (watch->next(batch)) {
    if (batch.compact_revision != 0) {
      callbacks_.on_problem("etcd compacted the changes since the last listing; listing again");
      compacted = true;
      break;
    }
    if (batch.canceled) {
      callbacks_.on_problem("etcd ended the watch (" + batch.cancel_reason + "); listing again");
      break;
    }
    for (const auto& event : batch.events) {
      handle(event, batch.revision);
    }
  }
  {
    std::lock_guard guard(mutex_);
    watch_ = nullptr;
  }
  watch->cancel();
  if (auto error = watch->error(); !error.empty() && !stopped()) {
    callbacks_.on_problem(error + "; listing again");
  }
  return compacted;
}

void FleetFollower::handle(const WatchEvent& event, std::int64_t revision) {
  auto location = parse_port_key(prefix_, event.value.key);
  if (!location) {
    return;  // not a port key: nothing of ours
  }
  FleetChange change{location->first, location->second, std::nullopt, event.value.mod_revision};
  if (change.revision == 0) {
    change.revision = revision;
  }
  if (event.type == WatchEvent::Type::put) {
    try {
      change.holder = decode_holder(prefix_, event.value.key, event.value.value);
    } catch (const InvalidFleetRecord& error) {
      callbacks_.on_problem(error.what());
      return;
    }
  }
  callbacks_.on_change(change);
}

}  // namespace portpool::fleet
