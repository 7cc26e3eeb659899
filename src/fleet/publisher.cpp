#include <portpool/fleet/publisher.hpp>

#include <portpool/error.hpp>
#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/host_identity.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/registry.hpp>
#include <portpool/unique_fd.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <utility>

namespace portpool::fleet {
namespace {

using Clock = std::chrono::steady_clock;

// What the lock directory's watch reports: a record written into a lock file (a new holder, a
// readiness change, a retired record), a lock file closed by a writer (a holder that ended, even by
// SIGKILL, or a failed attempt), files renamed or removed by other programs, and the directory
// itself going away. Readers (this agent included) open read-only and never write, so their reads
// are not reported and cannot wake the agent in a loop.
constexpr std::uint32_t lock_dir_events = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                                          IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

constexpr auto first_backoff = std::chrono::milliseconds(100);

// What this agent last wrote under one port key.
struct PublishedKey {
  std::string value;
  std::int64_t mod_revision = 0;
  std::int64_t lease = 0;
};

// The agent's session ended; the next one takes a lease again and resynchronises.
struct SessionLost {
  std::string reason;
};

}  // namespace

class Publisher::Impl {
 public:
  explicit Impl(PublisherOptions options)
      : options_(std::move(options)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!wake_) {
      throw ResourceError(fmt::format("cannot create the agent's event descriptor: {}", std::strerror(errno)));
    }
    notify_.reset(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!notify_) {
      throw ResourceError(
          fmt::format("cannot watch the lock directory: {}; each agent needs an inotify instance "
                      "(the limit per user is fs.inotify.max_user_instances)",
                      std::strerror(errno)));
    }
    if (options_.host_id.empty()) {
      options_.host_id = machine_host_id();
    }
    require_valid_host_id(options_.host_id);
    require_valid_prefix(options_.prefix);
    if (options_.ttl < std::chrono::seconds(1)) {
      throw ConfigError("the lease TTL must be at least 1 second");
    }
    if (options_.address_host.empty()) {
      options_.address_host = host_name();
    }
    boot_id_ = boot_id();
    options_.etcd.on_failover = [this, observer = std::move(options_.etcd.on_failover)](const EtcdFailover& failover) {
      log(fmt::format("etcd at {} stopped answering ({}); now talking to etcd at {}", failover.lost, failover.reason,
                      failover.used));
      if (observer) {
        observer(failover);
      }
    };
    etcd_ = std::make_unique<EtcdClient>(options_.etcd);
    watch_lock_dir();
  }

  void run() {
    auto backoff = first_backoff;
    while (!stopping()) {
      try {
        session(backoff);
      } catch (const SessionLost& lost) {
        log(lost.reason);
        continue;
      } catch (const Error& error) {  // EtcdUnavailable, EtcdError, a lock directory problem
        count(&PublisherStats::failures);
        log(fmt::format("{}; retrying in {} ms", error.what(), backoff.count()));
        wait_for_stop(jittered(backoff));
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
    }
    revoke();
  }

  void stop() noexcept {
    std::uint64_t one = 1;
    auto written = ::write(wake_.get(), &one, sizeof one);
    static_cast<void>(written);
  }

  const std::string& host_id() const noexcept { return options_.host_id; }

  PublisherStats stats() const {
    std::lock_guard guard(stats_mutex_);
    return stats_;
  }

 private:
  void session(std::chrono::milliseconds& backoff) {
    take_lease();
    drain_notifications();
    resync();
    backoff = first_backoff;
    auto renewal = Clock::now() + renewal_interval();
    while (true) {
      auto ready = wait(renewal);
      if (ready.stop) {
        return;
      }
      if (ready.lock_dir) {
        drain_notifications();
        sync_local();
      }
      if (Clock::now() >= renewal) {
        if (etcd_->keep_alive(lease_.id).count() == 0) {
          lease_ = {};
          throw SessionLost{
              "the lease expired in etcd (a partition or an etcd restart longer than its TTL); "
              "taking a new one and publishing the host again"};
        }
        renewal = Clock::now() + renewal_interval();
      }
    }
  }

  // Keeps the previous session's lease when etcd still has it (after a short outage), otherwise
  // takes a new one.
  void take_lease() {
    if (lease_.id != 0 && etcd_->keep_alive(lease_.id).count() > 0) {
      log(fmt::format("reconnected to etcd at {}; lease {:x} still alive", etcd_->current_endpoint(), lease_.id));
      return;
    }
    lease_ = etcd_->grant_lease(options_.ttl);
    count(&PublisherStats::sessions);
    log(fmt::format("publishing host '{}' to etcd at {} (lease {:x}, TTL {} s)", options_.host_id,
                    etcd_->current_endpoint(), lease_.id, lease_.ttl.count()));
  }

  std::chrono::milliseconds renewal_interval() const {
    auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(lease_.ttl);
    return std::max(ttl / 3, std::chrono::milliseconds(100));
  }

  // Reads what etcd has for this host, then makes it match the lock directory.
  void resync() {
    auto range = etcd_->range_prefix(host_ports_prefix(options_.prefix, options_.host_id));
    published_.clear();
    for (const auto& key : range.values) {
      auto location = parse_port_key(options_.prefix, key.key);
      if (location && location->first == options_.host_id) {
        published_[location->second] = PublishedKey{key.value, key.mod_revision, key.lease};
      } else if (etcd_->delete_if_unchanged(key.key, key.mod_revision)) {
        count(&PublisherStats::deletes);  // not a port key of this layout: not ours to keep
      }
    }
    count(&PublisherStats::resyncs);
    sync_local();
  }

  // Writes every holder whose key is missing, different or on another lease; deletes the keys of
  // ports no longer held.
  void sync_local() {
    std::map<std::uint16_t, std::string> wanted;
    for (const auto& holder : Registry::holders(options_.registry)) {
      wanted.emplace(holder.port,
                     encode_holder(fleet_holder_of(holder, options_.host_id, options_.address_host, boot_id_)));
    }
    for (auto& [port, value] : wanted) {
      auto found = published_.find(port);
      if (found != published_.end() && found->second.value == value && found->second.lease == lease_.id) {
        continue;
      }
      auto revision = etcd_->put(port_key(options_.prefix, options_.host_id, port), value, lease_.id);
      published_[port] = PublishedKey{std::move(value), revision, lease_.id};
      count(&PublisherStats::puts);
    }
    for (auto key = published_.begin(); key != published_.end();) {
      if (wanted.count(key->first) != 0) {
        ++key;
        continue;
      }
      if (etcd_->delete_if_unchanged(port_key(options_.prefix, options_.host_id, key->first),
                                     key->second.mod_revision)) {
        count(&PublisherStats::deletes);
      }
      key = published_.erase(key);
    }
  }

  struct Ready {
    bool stop = false;
    bool lock_dir = false;
  };

  Ready wait(Clock::time_point until) {
    std::array<pollfd, 2> watched{{{wake_.get(), POLLIN, 0}, {notify_.get(), POLLIN, 0}}};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    auto ready = ::poll(watched.data(), watched.size(), static_cast<int>(std::max<long long>(left, 0) + 1));
    if (ready < 0 && errno != EINTR) {
      throw Error(fmt::format("cannot wait for the lock directory: {}", std::strerror(errno)));
    }
    return Ready{stopping(), ready > 0 && (watched[1].revents & POLLIN) != 0};
  }

  void wait_for_stop(std::chrono::milliseconds pause) {
    pollfd watched{wake_.get(), POLLIN, 0};
    ::poll(&watched, 1, static_cast<int>(pause.count()));
  }

  bool stopping() const {
    pollfd watched{wake_.get(), POLLIN, 0};
    return ::poll(&watched, 1, 0) > 0;
  }

  // Creates the lock directory if needed (as the library does) and watches it.
  void watch_lock_dir() {
    auto directory =
        portpool::detail::open_lock_dir(options_.registry.lock_dir, options_.registry.shared_lock_dir, true);
    options_.registry.lock_dir = directory->path;
    if (::inotify_add_watch(notify_.get(), directory->path.c_str(), lock_dir_events) < 0) {
      throw Error(
          fmt::format("cannot watch the lock directory {}: {}", directory->path.string(), std::strerror(errno)));
    }
  }

  // Reads the pending events; a lock directory that was removed or moved away is created and
  // watched again (its holders are gone with it; new ones will use the new directory).
  void drain_notifications() {
    alignas(inotify_event) std::array<char, 16384> buffer{};
    bool directory_gone = false;
    ssize_t length = 0;
    while ((length = ::read(notify_.get(), buffer.data(), buffer.size())) > 0) {
      for (ssize_t offset = 0; offset < length;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer.data() + offset);
        directory_gone = directory_gone || (event->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) != 0;
        offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    if (directory_gone) {
      log(fmt::format("the lock directory {} was removed or moved; watching it anew",
                      options_.registry.lock_dir.string()));
      watch_lock_dir();
    }
  }

  std::chrono::milliseconds jittered(std::chrono::milliseconds pause) {
    std::uniform_int_distribution<long long> spread(pause.count() / 2, pause.count());
    return std::chrono::milliseconds(spread(random_));
  }

  // On a clean stop the host's keys vanish at once rather than when the lease expires.
  void revoke() noexcept {
    if (lease_.id == 0) {
      return;
    }
    try {
      etcd_->revoke_lease(lease_.id);
      log(fmt::format("stopped; lease {:x} revoked, the host's keys are gone", lease_.id));
    } catch (const std::exception& error) {
      log(fmt::format("stopped; the lease could not be revoked ({}): the keys vanish when it expires", error.what()));
    }
  }

  void log(const std::string& line) const {
    if (options_.on_log) {
      try {
        options_.on_log(line);
      } catch (...) {  // ignored: a logger must not stop the agent
      }
    }
  }

  void count(std::uint64_t PublisherStats::*counter) {
    std::lock_guard guard(stats_mutex_);
    ++(stats_.*counter);
  }

  PublisherOptions options_;
  portpool::UniqueFd wake_;
  portpool::UniqueFd notify_;
  std::string boot_id_;
  std::unique_ptr<EtcdClient> etcd_;
  LeaseGrant lease_;
  std::map<std::uint16_t, PublishedKey> published_;
  std::minstd_rand random_{std::random_device{}()};
  mutable std::mutex stats_mutex_;
  PublisherStats stats_;
};

Publisher::Publisher(PublisherOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Publisher::~Publisher() = default;
void Publisher::run() { impl_->run(); }
void Publisher::stop() noexcept { impl_->stop(); }
const std::string& Publisher::host_id() const noexcept { return impl_->host_id(); }
PublisherStats Publisher::stats() const { return impl_->stats(); }

}  // namespace portpool::fleet
