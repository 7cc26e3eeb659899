#include <portpool/fleet/fleet_lock_policy.hpp>

#include <portpool/error.hpp>
#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/fleet/host_identity.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>

namespace portpool::fleet {
namespace {

std::string claim_value(const std::string& host, const Holder& holder) {
  return nlohmann::ordered_json{
      {"host", host}, {"service", holder.service}, {"instance", holder.instance}, {"pid", holder.pid}}
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

}  // namespace

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
    if (renewer_.joinable()) {
      renewer_.join();
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
      try {
        if (auto revision = etcd_->create(key, value, lease)) {
          return revision;
        }
        break;
      } catch (const EtcdError&) {
        if (attempt > 0) {
          throw;
        }
        forget_lease(lease);  // expired between two renewals: take a new one, once
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
    try {
      etcd_->delete_if_unchanged(claim_key(options_.prefix, port), revision);
    } catch (const std::exception&) {  // ignored: the claim expires with the lease
    }
  }

  const std::string& host_id() const noexcept { return options_.host_id; }

 private:
  std::int64_t current_lease() {
    std::unique_lock lock(mutex_);
    if (lease_ == 0) {
      lock.unlock();
      auto granted = etcd_->grant_lease(options_.ttl);
      lock.lock();
      if (lease_ == 0) {
        lease_ = granted.id;
        ttl_ = granted.ttl;
      } else {
        lock.unlock();
        etcd_->revoke_lease(granted.id);  // another thread was faster
        lock.lock();
      }
      if (!renewer_.joinable()) {
        renewer_ = std::thread([this] { renew(); });
      }
    }
    return lease_;
  }

  void forget_lease(std::int64_t lease) {
    std::lock_guard guard(mutex_);
    if (lease_ == lease) {
      lease_ = 0;
    }
  }

  void renew() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      wake_.wait_for(
          lock,
          std::max(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3, std::chrono::milliseconds(300)),
          [this] { return stopping_; });
      if (stopping_ || lease_ == 0) {
        continue;
      }
      auto lease = lease_;
      lock.unlock();
      bool lost = false;
      try {
        lost = etcd_->keep_alive(lease).count() == 0;
      } catch (const std::exception&) {
        // unreachable for now: retried at the next renewal; past the TTL, etcd reports it lost
      }
      lock.lock();
      if (lost && lease_ == lease) {
        lease_ = 0;
        lock.unlock();
        notify_lost();
        lock.lock();
      }
    }
  }

  void notify_lost() const noexcept {
    if (options_.on_lost) {
      try {
        options_.on_lost("etcd lost the lease of this process's fleet claims: other hosts may now take their ports");
      } catch (...) {  // ignored: a callback must not end the renewals
      }
    }
  }

  FleetClaimsOptions options_;
  std::unique_ptr<EtcdClient> etcd_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::int64_t lease_ = 0;
  std::chrono::seconds ttl_{0};
  std::thread renewer_;
};

FleetClaims::FleetClaims(FleetClaimsOptions options) : impl_(std::make_shared<Impl>(std::move(options))) {}
FleetClaims::~FleetClaims() = default;

std::optional<std::int64_t> FleetClaims::claim(const Holder& holder, std::string& refusal) {
  return impl_->claim(holder, refusal);
}

void FleetClaims::release(std::uint16_t port, std::int64_t revision) noexcept { impl_->release(port, revision); }

const std::string& FleetClaims::host_id() const noexcept { return impl_->host_id(); }

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
