#pragma once

// The shared state behind a PortShield: it outlives the PortShield object while handlers are
// queued, so that a shield destroyed with a check pending never calls back nor touches freed memory.

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <portpool/detail/process_tree.hpp>
#include <portpool/error.hpp>
#include <portpool/impl/inotify_hub.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/impl/socket_table.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/shield_options.hpp>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace portpool::detail {

/// What a shield watches, copied from the lease when the shield starts.
struct ShieldTarget {
  std::uint16_t port = 0;
  std::string service;
  std::filesystem::path lock_file;  ///< for messages; checks go through `directory`
  std::shared_ptr<const LockDirectory> directory;
  std::string lock_name;
  LockFileIdentity identity;
  std::uint64_t acceptor_inode = 0;  ///< 0 for a plain lease
};

inline ShieldTarget shield_target(const PortLease& lease) {
  if (!lease.held()) {
    throw ConfigError(
        "PortShield was given a lease that holds no port (released or moved from): shield a lease while it "
        "holds its port");
  }
  const auto* lock = held_lock_of(lease);
  return ShieldTarget{lease.port(),
                      lease.service(),
                      lease.lock_file(),
                      lock->directory(),
                      lock->lock_name(),
                      lease.lock_file_identity(),
                      0};
}

inline ShieldTarget shield_target(const ListeningLease& listening) {
  auto target = shield_target(listening.lease);
  if (!listening.acceptor.is_open()) {
    throw ConfigError(fmt::format(
        "PortShield was given a ListeningLease of port {} whose acceptor is closed: shield it while it listens, or "
        "shield the plain lease",
        target.port));
  }
  auto handle = const_cast<boost::asio::ip::tcp::acceptor&>(listening.acceptor)  // NOLINT: reads the handle only
                    .native_handle();
  target.acceptor_inode = socket_inode_of_fd(handle);
  if (target.acceptor_inode == 0) {
    throw ConfigError(fmt::format("the acceptor of port {} is not a socket", target.port));
  }
  return target;
}

/// The shared state of a shield: everything the strand's handlers touch. Handlers hold it by
/// shared_ptr, so it outlives the PortShield object when one is still pending; the `stopped_`
/// flag makes such late handlers do nothing.
class ShieldState : public std::enable_shared_from_this<ShieldState> {
 public:
  using Callback = std::function<void(const ShieldEvent&)>;

  ShieldState(boost::asio::any_io_executor executor, ShieldTarget target, Callback on_lost, ShieldOptions options)
      : executor_(std::move(executor)),
        strand_(boost::asio::make_strand(executor_)),
        timer_(strand_),
        target_(std::move(target)),
        on_lost_(std::move(on_lost)),
        options_(std::move(options)),
        started_(std::chrono::steady_clock::now()) {
    if (options_.interval.count() <= 0) {
      throw ConfigError(fmt::format("the shield interval must be positive (got {} ms)", options_.interval.count()));
    }
    if (options_.grace.count() < 0) {
      throw ConfigError(fmt::format("the shield grace must not be negative (got {} ms)", options_.grace.count()));
    }
  }

  ShieldState(const ShieldState&) = delete;
  ShieldState& operator=(const ShieldState&) = delete;
  ShieldState(ShieldState&&) = delete;
  ShieldState& operator=(ShieldState&&) = delete;
  ~ShieldState() = default;

  /// Subscribes to the lock directory's events, then checks everything once on the strand.
  void start() {
    std::weak_ptr<ShieldState> weak = shared_from_this();
    // Through the directory's descriptor, so that a later chdir() or a renamed parent changes nothing.
    auto watched =
        std::filesystem::path(fmt::format("/proc/self/fd/{}", target_.directory->fd.get())) / target_.lock_name;
    auto subscription = InotifyHub::subscribe(executor_, watched, [weak] {
      if (auto self = weak.lock()) {
        boost::asio::post(self->strand_, [self] { self->check_lock_file(); });
      }
    });
    {
      std::lock_guard guard(subscription_mutex_);
      subscription_ = std::move(subscription);
    }
    boost::asio::post(strand_, [self = shared_from_this()] { self->tick(); });
  }

  /// Stops watching. Once it returns, the callback is not running (unless stop() was called from
  /// it) and will never run. Idempotent, from any thread.
  // NOLINTNEXTLINE(bugprone-exception-escape): shared_from_this and locking a mutex cannot fail here
  void stop() noexcept {
    auto keep_alive = shared_from_this();  // dropping the callback below may destroy the PortShield
    stopped_.store(true);
    unsubscribe();
    if (callback_thread_.load() != std::this_thread::get_id()) {
      Callback dropped;
      {
        std::lock_guard wait_for_callback(callback_mutex_);
        dropped = std::move(on_lost_);
        on_lost_ = nullptr;
      }
      // Never called again: what it holds goes now, outside the lock (it may own this shield).
    }
    finish();
  }

 private:
  void unsubscribe() noexcept {
    std::unique_ptr<InotifyHub::Subscription> subscription;
    {
      std::lock_guard guard(subscription_mutex_);
      subscription = std::move(subscription_);
    }
    // Destroyed outside the lock: after this the hub never wakes this shield again.
  }

  // Cancels the pending poll, on the strand (the timer is only ever touched there).
  void finish() noexcept {
    if (finish_posted_.exchange(true)) {
      return;
    }
    try {
      boost::asio::post(strand_, [self = shared_from_this()] { self->timer_.cancel(); });
    } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory; the poll ends at its next tick
    }
  }

  // On the strand.
  void tick() {
    if (stopped_.load()) {
      return;
    }
    if (auto loss = lock_file_loss()) {
      report(*loss);
      return;
    }
    if (auto loss = listener_loss()) {
      report(*loss);
      return;
    }
    schedule();
  }

  // On the strand: the next tick, on the next multiple of the interval of the steady clock, so
  // that every shield with this interval wakes at the same moment and shares one table read.
  void schedule() {
    auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.interval);
    auto since_epoch = std::chrono::steady_clock::now().time_since_epoch();
    auto next = std::chrono::steady_clock::time_point((since_epoch / period + 1) * period);
    timer_.expires_at(next);
    timer_.async_wait(
        boost::asio::bind_executor(strand_, [self = shared_from_this()](const boost::system::error_code& error) {
          if (!error) {
            self->tick();
          }
        }));
  }

  // On the strand: after an inotify event.
  void check_lock_file() {
    if (stopped_.load()) {
      return;
    }
    if (auto loss = lock_file_loss()) {
      report(*loss);
    }
  }

  ShieldEvent event(LostReason reason, std::string message) const {
    return ShieldEvent{reason, target_.port, target_.service, std::move(message)};
  }

  std::string who() const { return fmt::format("port {} ('{}')", target_.port, target_.service); }

  // fstatat relative to the lock directory's descriptor: the name is looked up where it was locked,
  // whatever the working directory is now.
  std::optional<ShieldEvent> lock_file_loss() const {
    struct stat status {};
    if (::fstatat(target_.directory->fd.get(), target_.lock_name.c_str(), &status, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) {
        return std::nullopt;  // cannot tell (permissions changed?): the next check tries again
      }
      return event(LostReason::lock_file_removed,
                   fmt::format("the lock file {} of {} was deleted by another program: another process can now lock "
                               "a new file of that name and take the port. Stop using port {} and acquire a new "
                               "lease; do not let anything delete files in the lock directory",
                               target_.lock_file.string(), who(), target_.port));
    }
    if (status.st_dev != target_.identity.device || status.st_ino != target_.identity.inode) {
      return event(LostReason::lock_file_replaced,
                   fmt::format("the lock file {} of {} was replaced by another file (inode {} instead of the locked "
                               "inode {}): the lock this process holds no longer guards the port, and another "
                               "process can take it. Stop using port {} and acquire a new lease; do not let "
                               "anything rename or write files in the lock directory",
                               target_.lock_file.string(), who(), status.st_ino, target_.identity.inode, target_.port));
    }
    return std::nullopt;
  }

  struct Verdict {
    std::vector<Listener> foreign;
    bool ours_listening = false;
  };

  // Which listeners on the port are foreign, and whether ours listens, according to `snapshot`.
  Verdict judge(const ListenerSnapshot& snapshot) const {
    Verdict verdict;
    for (const auto& listener : snapshot.on_port(target_.port)) {
      if (target_.acceptor_inode != 0 && listener.inode == target_.acceptor_inode) {
        verdict.ours_listening = true;
      } else if (service_socket(snapshot, listener.inode)) {
        verdict.ours_listening = verdict.ours_listening || target_.acceptor_inode == 0;
      } else {
        verdict.foreign.push_back(listener);
      }
    }
    return verdict;
  }

  // Open in this process or in one of the listener processes.
  bool service_socket(const ListenerSnapshot& snapshot, std::uint64_t inode) const {
    if (snapshot.own_inodes().count(inode) != 0) {
      return true;
    }
    auto open_in = [&](pid_t process) { return snapshot.open_in_process(process, inode); };
    if (std::any_of(options_.listener_processes.begin(), options_.listener_processes.end(), open_in) ||
        std::any_of(options_.listener_process_trees.begin(), options_.listener_process_trees.end(), open_in)) {
      return true;
    }
    for (auto root : options_.listener_process_trees) {
      auto descendants = descendants_of(root);
      if (std::any_of(descendants.begin(), descendants.end(), open_in)) {
        return true;
      }
    }
    return false;
  }

  // "this process", naming the listener processes too when there are any.
  std::string service_processes(const char* conjunction) const {
    std::string described = "this process";
    if (!options_.listener_processes.empty()) {
      described +=
          fmt::format(" {} of its listener process{} (pid {})", conjunction,
                      options_.listener_processes.size() > 1 ? "es" : "", fmt::join(options_.listener_processes, ", "));
    }
    if (!options_.listener_process_trees.empty()) {
      described += fmt::format(" {} of the process tree{} of pid {}", conjunction,
                               options_.listener_process_trees.size() > 1 ? "s" : "",
                               fmt::join(options_.listener_process_trees, ", "));
    }
    return described;
  }

  bool listener_expected_now() const {
    return options_.expect_listener && std::chrono::steady_clock::now() - started_ >= options_.grace;
  }

  // The shared snapshot answers the idle case. A loss it suggests is confirmed on a fresh read
  // of the tables, taken after the scan of this process's descriptors that the first verdict
  // used: a listener seen in both reads and in neither scan was alive and not ours all along.
  std::optional<ShieldEvent> listener_loss() const {
    auto max_age = std::min<std::chrono::nanoseconds>(options_.interval / 4, std::chrono::milliseconds(50));
    auto snapshot = ListenerSnapshot::shared(max_age);
    if (!snapshot->complete()) {
      return std::nullopt;  // no /proc/net here: nothing to compare with
    }
    auto first = judge(*snapshot);
    bool gone = listener_expected_now() && !first.ours_listening;
    if (first.foreign.empty() && !gone) {
      return std::nullopt;
    }
    auto fresh = ListenerSnapshot::read();
    auto second = judge(*fresh);
    for (const auto& listener : second.foreign) {
      auto seen_before = std::any_of(first.foreign.begin(), first.foreign.end(),
                                     [&](const Listener& earlier) { return earlier.inode == listener.inode; });
      if (seen_before) {
        return foreign_event(listener);
      }
    }
    if (gone && !second.ours_listening) {
      return listener_gone_event();
    }
    return std::nullopt;
  }

  ShieldEvent foreign_event(const Listener& listener) const {
    auto owner = describe_socket_owner(listener.inode);
    return event(LostReason::foreign_listener,
                 fmt::format("another program listens on {}: {}{} is not a socket of {}{}. "
                             "Whatever connects to port {} may reach it instead of this service; stop that program "
                             "or move this service to another port",
                             who(), describe_listener(listener), owner.empty() ? std::string{} : " of " + owner,
                             service_processes("nor"), target_.acceptor_inode != 0 ? " nor the lease's acceptor" : "",
                             target_.port));
  }

  ShieldEvent listener_gone_event() const {
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
    if (target_.acceptor_inode != 0) {
      return event(LostReason::listener_gone,
                   fmt::format("the service's listener on {} is gone: the lease's acceptor (socket inode {}) no "
                               "longer listens, {} ms after the shield started. Clients cannot connect; restart "
                               "the service's listener or release the port",
                               who(), target_.acceptor_inode, waited.count()));
    }
    return event(LostReason::listener_gone,
                 fmt::format("no socket of {} listens on {}, {} ms after the shield started (grace {} ms). "
                             "Clients cannot connect; start the service's listener or release the port",
                             service_processes("or"), who(), waited.count(), options_.grace.count()));
  }

  // On the strand. The callback runs under callback_mutex_, so that stop() from another thread
  // waits for it; stop() from inside it sees its own thread id and does not wait.
  void report(const ShieldEvent& lost) {
    {
      std::lock_guard guard(callback_mutex_);
      if (stopped_.exchange(true)) {
        return;  // stopped meanwhile, or already reported
      }
      callback_thread_.store(std::this_thread::get_id());
      try {
        if (on_lost_) {
          on_lost_(lost);
        }
      } catch (...) {  // NOLINT(bugprone-empty-catch): documented on PortShield
      }
      callback_thread_.store(std::thread::id());
    }
    unsubscribe();  // reported once: the shield stops watching
    finish();
  }

  boost::asio::any_io_executor executor_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::steady_timer timer_;
  const ShieldTarget target_;
  Callback on_lost_;
  const ShieldOptions options_;
  const std::chrono::steady_clock::time_point started_;

  std::atomic<bool> stopped_{false};
  std::atomic<bool> finish_posted_{false};
  std::mutex callback_mutex_;
  std::atomic<std::thread::id> callback_thread_{};
  std::mutex subscription_mutex_;
  std::unique_ptr<InotifyHub::Subscription> subscription_;
};

}  // namespace portpool::detail
