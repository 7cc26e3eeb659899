#include <portpool/fleet/fleet_lock_policy.hpp>

#include <portpool/error.hpp>
#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/fleet/host_identity.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

namespace portpool::fleet {
namespace {

std::string claim_value(const std::string& host, const Holder& holder) {
  return nlohmann::ordered_json{{"host", host},
                                {"service", holder.service},
                                {"instance", holder.instance},
                                {"pid", holder.pid},
                                {"transport", to_string(holder.transport)}}
      .dump();
}

// Who has a claim, from its (untrusted) value: only plain names and numbers are repeated.
std::string describe_claim(const std::string& value) {
  auto claim = nlohmann::json::parse(value.size() <= max_value_size ? value : std::string{}, nullptr, false);
  if (claim.is_object() && claim.contains("host") && claim["host"].is_string() && claim.contains("service") &&
      claim["service"].is_string() && claim.contains("pid") && claim["pid"].is_number_integer()) {
    auto host = claim["host"].get<std::string>();
    auto service = claim["service"].get<std::string>();
    if (portpool::detail::is_valid_name(host) && portpool::detail::is_valid_name(service)) {
      return fmt::format("claimed in the fleet by host {} (pid {}, {})", host, claim["pid"].get<std::int64_t>(),
                         service);
    }
  }
  return "claimed in the fleet by another host";
}

std::string epoch_value(const std::string& host, bool seeded) {
  return nlohmann::ordered_json{
      {"created", iso8601_utc(std::chrono::system_clock::now())}, {"host", host}, {"seeded", seeded}}
      .dump();
}

// How often a session re-reads the epoch keys while the cluster settles.
constexpr std::chrono::milliseconds settling_recheck_interval{250};

constexpr const char* unknown_lease_message =
    "etcd no longer knows the lease of this process's fleet claims (it expired, was revoked, or etcd lost its "
    "data): other hosts may now take their ports";

}  // namespace

std::chrono::milliseconds effective_stop_margin(const FleetClaimsOptions& options) {
  using std::chrono::milliseconds;
  const milliseconds ttl = options.ttl;
  auto margin = options.stop_margin.value_or(std::min(std::max(ttl / 3, milliseconds(2000)), ttl / 2));
  if (margin < milliseconds::zero()) {
    throw ConfigError(fmt::format("the claims' stop margin ({} ms) is negative: give 0 or more", margin.count()));
  }
  if (ttl - margin < minimum_renewal_window) {
    throw ConfigError(fmt::format(
        "the claims' stop margin ({} ms) leaves less than {} ms of the lease TTL ({} s) for renewals: give a "
        "longer TTL or a shorter margin",
        margin.count(), minimum_renewal_window.count(), options.ttl.count()));
  }
  return margin;
}

bool initialize_fleet(EtcdClient& etcd, const std::string& prefix, const std::string& host_id) {
  require_valid_prefix(prefix);
  require_valid_host_id(host_id);
  return etcd.create(epoch_key(prefix), epoch_value(host_id, true), 0).has_value();
}

class FleetClaims::Impl {
 public:
  explicit Impl(FleetClaimsOptions options) : options_(std::move(options)) {
    if (options_.host_id.empty()) {
      options_.host_id = machine_host_id();
    }
    require_valid_host_id(options_.host_id);
    require_valid_prefix(options_.prefix);
    if (options_.ttl < std::chrono::seconds(1)) {
      throw ConfigError("the claims' lease TTL must be at least 1 second");
    }
    stop_margin_ = effective_stop_margin(options_);
    etcd_ = std::make_unique<EtcdClient>(options_.etcd);
  }

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  Impl(Impl&&) = delete;
  Impl& operator=(Impl&&) = delete;

  ~Impl() {
    {
      std::lock_guard guard(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto* thread : {&renewer_, &watchdog_}) {
      if (thread->joinable()) {
        thread->join();
      }
    }
    if (lease_ != 0) {
      try {
        etcd_->revoke_lease(lease_);
      } catch (const std::exception&) {  // ignored: the claims expire with the lease
      }
    }
  }

  std::optional<std::int64_t> claim(const Holder& holder, std::string& refusal) {
    auto key = claim_key(options_.prefix, holder.port);
    auto value = claim_value(options_.host_id, holder);
    for (int attempt = 0;; ++attempt) {
      auto lease = current_lease();
      if (auto unsettled = unsettled_epoch(lease)) {
        refusal = std::move(*unsettled);
        return std::nullopt;
      }
      std::optional<std::int64_t> revision;
      try {
        revision = etcd_->create(key, value, lease);
      } catch (const EtcdError&) {
        if (attempt > 0 || etcd_->keep_alive(lease).count() != 0) {
          throw;
        }
        lose_unknown_lease(lease);  // expired between two renewals: take a new one, once
        continue;
      }
      if (!revision) {
        break;
      }
      if (keep_claim(lease, *revision)) {
        return revision;
      }
      // The lease counted as lost while the claim was made: the claim would not be renewed.
      release(holder.port, *revision);
      if (attempt > 0) {
        throw EtcdUnavailable(
            "the fleet claims' lease was lost twice while a port was claimed: etcd does not confirm renewals in "
            "time; check etcd's health and the network to it");
      }
    }
    for (const auto& existing : etcd_->range_prefix(key).values) {
      if (existing.key == key) {
        refusal = describe_claim(existing.value);
        return std::nullopt;
      }
    }
    refusal = "claimed in the fleet by another host";
    return std::nullopt;
  }

  void release(std::uint16_t port, std::int64_t revision) noexcept {
    {
      std::lock_guard guard(mutex_);
      live_claims_.erase(revision);
    }
    try {
      etcd_->delete_if_unchanged(claim_key(options_.prefix, port), revision);
    } catch (const std::exception&) {  // ignored: the claim expires with the lease
    }
  }

  const std::string& host_id() const noexcept { return options_.host_id; }

  std::uint64_t cluster_id() const noexcept { return etcd_->cluster_id(); }

 private:
  using Clock = std::chrono::steady_clock;

  // Why no claim counts yet under the prefix (the cluster is new or lost its data and has not
  // settled), or nullopt when claims on `lease` count. The marker is read after `lease` was granted,
  // and a claim on it succeeds only while etcd still knows the lease: so the marker was read from
  // the same data as the claim is made in, not from data that was lost since. One Range per lease,
  // and every 250 ms at most while the cluster settles.
  std::optional<std::string> unsettled_epoch(std::int64_t lease) {
    {
      std::lock_guard guard(mutex_);
      if (epoch_settled_lease_ == lease) {
        return std::nullopt;
      }
      if (Clock::now() < epoch_recheck_) {
        return epoch_refusal_;
      }
    }
    auto marker = epoch_key(options_.prefix);
    auto settling = epoch_settling_key(options_.prefix);
    bool marked = false;
    bool settled = true;
    for (const auto& found : etcd_->range_prefix(marker).values) {
      marked = marked || found.key == marker;
      settled = settled && found.key != settling;
    }
    if (!marked) {
      mark_new_epoch(marker, settling);
      settled = false;
    }
    std::lock_guard guard(mutex_);
    if (settled) {
      epoch_settled_lease_ = lease;
      return std::nullopt;
    }
    epoch_recheck_ = Clock::now() + settling_recheck_interval;
    epoch_refusal_ = fmt::format(
        "no fleet claim counts yet: the epoch marker {} was missing (a new etcd cluster, or one that lost its "
        "data), and claims count only once every holder from before can have stopped, up to {} s (the claims' TTL "
        "plus the stop margin) after the marker was created; wait for it (`portpool run --wait`, acquire_for), or "
        "seed a cluster known to be new with `portpool fleet-init`",
        marker, settling_ttl().count());
    return epoch_refusal_;
  }

  // The settling key first, then the marker, each only where absent: whoever finds the marker
  // finds the settling key too, until it has lasted its whole lease.
  void mark_new_epoch(const std::string& marker, const std::string& settling) {
    auto lease = etcd_->grant_lease(settling_ttl());
    if (!etcd_->create(settling, epoch_value(options_.host_id, false), lease.id)) {
      etcd_->revoke_lease(lease.id);  // another claimant's settling key is there
    }
    etcd_->create(marker, epoch_value(options_.host_id, false), 0);
  }

  std::chrono::seconds settling_ttl() const {
    return std::chrono::ceil<std::chrono::seconds>(std::chrono::milliseconds(options_.ttl) + stop_margin_);
  }

  std::int64_t current_lease() {
    std::unique_lock lock(mutex_);
    if (lease_ == 0) {
      lock.unlock();
      auto sent = Clock::now();
      auto granted = etcd_->grant_lease(options_.ttl);
      lock.lock();
      if (lease_ == 0) {
        lease_ = granted.id;
        ttl_ = granted.ttl;
        deadline_ = sent + ttl_ - stop_margin_;
        next_renewal_ = sent + renewal_interval();
        wake_.notify_all();
      } else {
        lock.unlock();
        etcd_->revoke_lease(granted.id);  // another thread was faster
        lock.lock();
      }
      if (!renewer_.joinable()) {
        renewer_ = std::thread([this] { renew(); });
        watchdog_ = std::thread([this] { watch_deadline(); });
      }
    }
    return lease_;
  }

  // Counts a claim made on `lease` as held, unless the lease counted as lost meanwhile.
  bool keep_claim(std::int64_t lease, std::int64_t revision) {
    std::lock_guard guard(mutex_);
    if (lease_ != lease || Clock::now() >= deadline_) {
      return false;
    }
    live_claims_.insert(revision);
    return true;
  }

  void lose_unknown_lease(std::int64_t lease) {
    std::unique_lock lock(mutex_);
    lose(lock, lease, ClaimsLost::Reason::lease_expired_in_etcd, unknown_lease_message);
  }

  // A third of what the deadline leaves after a confirmed renewal: two renewals may fail before it.
  std::chrono::milliseconds renewal_interval() const {
    return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_ - stop_margin_) / 3,
                    std::chrono::milliseconds(100));
  }

  std::chrono::milliseconds retry_interval() const {
    return std::min(renewal_interval(), std::chrono::milliseconds(500));
  }

  void renew() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (lease_ == 0) {
        wake_.wait(lock, [this] { return stopping_ || lease_ != 0; });
        continue;
      }
      if (Clock::now() < next_renewal_) {
        auto lease = lease_;
        wake_.wait_until(lock, next_renewal_, [this, lease] { return stopping_ || lease_ != lease; });
        continue;
      }
      auto lease = lease_;
      lock.unlock();
      auto sent = Clock::now();
      std::optional<std::chrono::seconds> left;
      try {
        left = etcd_->keep_alive(lease);
      } catch (const std::exception&) {
        // unreachable or refused: retried soon; the deadline watch decides when it is too late
      }
      lock.lock();
      if (lease_ != lease) {
        continue;  // lost meanwhile, or replaced
      }
      if (!left) {
        next_renewal_ = Clock::now() + retry_interval();
      } else if (left->count() == 0) {
        lose(lock, lease, ClaimsLost::Reason::lease_expired_in_etcd, unknown_lease_message);
      } else {
        deadline_ = std::max(deadline_, sent + *left - stop_margin_);
        next_renewal_ = sent + renewal_interval();
      }
    }
  }

  void watch_deadline() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (lease_ == 0) {
        wake_.wait(lock, [this] { return stopping_ || lease_ != 0; });
        continue;
      }
      auto lease = lease_;
      auto deadline = deadline_;
      if (Clock::now() < deadline) {
        wake_.wait_until(lock, deadline,
                         [this, lease, deadline] { return stopping_ || lease_ != lease || deadline_ != deadline; });
        continue;
      }
      lose(lock, lease, ClaimsLost::Reason::deadline_passed_without_renewal,
           fmt::format("etcd confirmed no renewal of the lease of this process's fleet claims in time (TTL {} s, "
                       "stop margin {} ms): the lease may expire within the margin, and other hosts may then "
                       "take their ports",
                       ttl_.count(), stop_margin_.count()));
    }
  }

  // Called with `lock` held; notifies without it.
  void lose(std::unique_lock<std::mutex>& lock, std::int64_t lease, ClaimsLost::Reason reason, std::string message) {
    if (lease_ != lease) {
      return;
    }
    lease_ = 0;
    wake_.notify_all();
    if (live_claims_.empty()) {
      return;  // nothing was held on it
    }
    live_claims_.clear();
    lock.unlock();
    notify_lost(ClaimsLost{reason, std::move(message)});
    lock.lock();
  }

  void notify_lost(const ClaimsLost& lost) const noexcept {
    try {
      if (options_.on_claims_lost) {
        options_.on_claims_lost(lost);
      }
      if (options_.on_lost) {
        options_.on_lost(lost.message);
      }
    } catch (...) {  // ignored: a callback must not end the renewals
    }
  }

  FleetClaimsOptions options_;
  std::chrono::milliseconds stop_margin_{0};
  std::unique_ptr<EtcdClient> etcd_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::int64_t lease_ = 0;
  std::set<std::int64_t> live_claims_;  ///< the revisions of the claims held on `lease_`
  std::chrono::seconds ttl_{0};
  Clock::time_point deadline_;
  Clock::time_point next_renewal_;
  std::thread renewer_;
  std::thread watchdog_;
  std::int64_t epoch_settled_lease_ = 0;  ///< the lease whose claims count: the marker was read on it
  Clock::time_point epoch_recheck_;       ///< until then, `epoch_refusal_` is the answer
  std::string epoch_refusal_;
};

FleetClaims::FleetClaims(FleetClaimsOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
FleetClaims::~FleetClaims() = default;

std::optional<std::int64_t> FleetClaims::claim(const Holder& holder, std::string& refusal) {
  return impl_->claim(holder, refusal);
}

void FleetClaims::release(std::uint16_t port, std::int64_t revision) noexcept { impl_->release(port, revision); }

const std::string& FleetClaims::host_id() const noexcept { return impl_->host_id(); }

FencingToken FleetClaims::fencing_token(std::int64_t revision) const {
  return {fmt::format("{:016x}", impl_->cluster_id()), revision};
}

FleetLockPolicy::FleetLockPolicy(const Options& options, std::shared_ptr<FleetClaims> claims)
    : local_(options), claims_(std::move(claims)) {
  if (!claims_) {
    throw ConfigError("a fleet lock policy needs its FleetClaims session");
  }
}

LockAttempt FleetLockPolicy::try_lock(const Holder& holder, bool explain) const {
  std::string refusal;
  auto revision = claims_->claim(holder, refusal);
  if (!revision) {
    return {std::nullopt, explain ? refusal : std::string{}, RefusalReason::claimed_elsewhere, std::nullopt};
  }
  LockAttempt attempt;
  try {
    attempt = local_.try_lock(holder, explain);
  } catch (...) {
    claims_->release(holder.port, *revision);
    throw;
  }
  if (!attempt.lock) {
    claims_->release(holder.port, *revision);
    return attempt;
  }
  attempt.lock->set_fencing_token(claims_->fencing_token(*revision));
  attempt.lock->call_after_release(
      [claims = claims_, port = holder.port, claimed = *revision] { claims->release(port, claimed); });
  return attempt;
}

FleetPoolManager make_fleet_pool_manager(const ServicePortTable& table, const std::string& service, Options options,
                                         std::shared_ptr<FleetClaims> claims) {
  table.validate();
  if (table.scope(service) != PoolScope::fleet) {
    throw ConfigError(
        fmt::format("service '{}' is not declared fleet-wide: give it scope = \"fleet\" in the config "
                    "file, or use a PortPoolManager for a pool exclusive on this host only",
                    service));
  }
  auto pool = table.search_order(service, options.instance);
  FleetLockPolicy locks(options, std::move(claims));
  return {service, std::move(pool), std::move(options), std::move(locks)};
}

}  // namespace portpool::fleet
