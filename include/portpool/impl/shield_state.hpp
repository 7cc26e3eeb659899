#pragma once

// The shared state behind a PortShield: it outlives the PortShield object while handlers are
// queued, so that a shield destroyed with a check pending never calls back nor touches freed memory.
//
// Only the I/O lives here: the strand, the timer, the inotify subscription, the reads of the lock
// file's name, of the socket tables (TCP listeners, and bound UDP sockets for a port held for UDP)
// and of /proc. What the facts mean is decided by shield_verdict.hpp; what the report says, by the
// public PortShield (impl/port_shield.hpp).

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>
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
#include <portpool/detail/shield_verdict.hpp>
#include <portpool/impl/inotify_hub.hpp>
#include <portpool/impl/socket_table.hpp>
#include <portpool/unique_fd.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace portpool::detail {

/// What a shield watches and how, copied from the lease and the options when the shield starts.
struct ShieldTarget {
  std::uint16_t port = 0;
  std::string service;
  std::filesystem::path lock_file;            ///< for messages; checks go through `directory`
  std::shared_ptr<const UniqueFd> directory;  ///< the lock directory as it was locked (kept open)
  std::filesystem::path lock_directory;       ///< its absolute path: must keep naming `opened_directory`
  FileIdentity opened_directory;
  std::string lock_name;
  FileIdentity locked;
  ServiceSockets sockets;
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds grace{0};
  bool expect_listener = false;
};

/// A loss as ShieldState reports it: the verdict, and the facts a message about it needs that
/// only I/O or the clock can tell.
struct ShieldReport {
  Verdict verdict;
  std::string foreign_owner;            ///< with foreign_listener: "pid N (command)", or empty when not visible
  std::chrono::milliseconds waited{0};  ///< since the shield started
};

/// The snapshots one check reads: the TCP listeners for a port held for TCP, the bound UDP sockets
/// for one held for UDP; null for a transport the port is not held for.
struct SocketTables {
  std::shared_ptr<const ListenerSnapshot> listeners;
  std::shared_ptr<const ListenerSnapshot> udp_sockets;

  /// The snapshot `socket` was read from.
  const ListenerSnapshot& of(const Listener& socket) const {
    return socket.type == SOCK_DGRAM ? *udp_sockets : *listeners;
  }
};

/// The shared state of a shield: everything the strand's handlers touch. Handlers hold it by
/// shared_ptr, so it outlives the PortShield object when one is still pending; the `stopped_`
/// flag makes such late handlers do nothing.
class ShieldState : public std::enable_shared_from_this<ShieldState> {
 public:
  /// Called once, on the strand, with the target and what was found.
  using Callback = std::function<void(const ShieldTarget&, const ShieldReport&)>;

  /// `target` must be valid (a positive interval, a grace not negative): the public side checks it.
  ShieldState(boost::asio::any_io_executor executor, ShieldTarget target, Callback on_lost)
      : executor_(std::move(executor)),
        strand_(boost::asio::make_strand(executor_)),
        timer_(strand_),
        target_(std::move(target)),
        on_lost_(std::move(on_lost)),
        started_(std::chrono::steady_clock::now()) {}

  ShieldState(const ShieldState&) = delete;
  ShieldState& operator=(const ShieldState&) = delete;
  ShieldState(ShieldState&&) = delete;
  ShieldState& operator=(ShieldState&&) = delete;
  ~ShieldState() = default;

  /// Subscribes to the lock directory's events, then checks everything once on the strand.
  void start() {
    std::weak_ptr<ShieldState> weak = shared_from_this();
    // Through the directory's descriptor, so that a later chdir() or a renamed parent changes nothing.
    auto watched = std::filesystem::path(fmt::format("/proc/self/fd/{}", target_.directory->get())) / target_.lock_name;
    auto subscription = InotifyHub::subscribe(executor_, watched, [weak] {
      if (auto self = weak.lock()) {
        boost::asio::post(self->strand_, [self] { self->check_names(); });
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
    } catch (...) {  // ignored: out of memory; the poll ends at its next tick
    }
  }

  // On the strand.
  void tick() {
    if (stopped_.load()) {
      return;
    }
    auto verdict = judge();
    if (verdict.loss) {
      report(verdict);
      return;
    }
    schedule();
  }

  // On the strand: the next tick, on the next multiple of the interval of the steady clock, so
  // that every shield with this interval wakes at the same moment and shares one table read.
  void schedule() {
    auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(target_.interval);
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

  // On the strand: after an inotify event about the lock file or the lock directory itself
  // (moved, deleted).
  void check_names() {
    if (stopped_.load()) {
      return;
    }
    ShieldFacts facts;
    observe_names(facts);
    auto verdict = names_verdict(facts);
    if (verdict.loss) {
      report(verdict);
    }
  }

  static NameStatus name_status(int directory, const char* name) {
    struct stat status {};
    if (::fstatat(directory, name, &status, AT_SYMLINK_NOFOLLOW) != 0) {
      bool missing = errno == ENOENT || errno == ENOTDIR;
      return NameStatus{missing ? NameStatus::Found::nothing : NameStatus::Found::unreadable, {}};
    }
    return NameStatus{NameStatus::Found::file, FileIdentity{status.st_dev, status.st_ino}};
  }

  // What the lock file's name and the lock directory's path name now, into `facts`. One lookup while
  // all is well: the lock file's name looked up by the directory's path, as another process finds
  // it, names the locked file (which has one name, so the path leads to the directory opened). Only
  // otherwise are the two looked up apart, to tell which changed: the lock file's name relative to
  // the directory's descriptor (where it was locked), and the directory's path.
  void observe_names(ShieldFacts& facts) const {
    facts.locked = target_.locked;
    facts.opened_directory = target_.opened_directory;
    auto by_path = name_status(AT_FDCWD, (target_.lock_directory / target_.lock_name).c_str());
    if (by_path.found == NameStatus::Found::file && by_path.identity.device == target_.locked.device &&
        by_path.identity.inode == target_.locked.inode) {
      facts.lock_file = by_path;
      facts.lock_directory = NameStatus{NameStatus::Found::file, target_.opened_directory};
      return;
    }
    facts.lock_file = name_status(target_.directory->get(), target_.lock_name.c_str());
    facts.lock_directory = name_status(AT_FDCWD, target_.lock_directory.c_str());
  }

  // The tables of the transports the port is held for: the shared snapshots, or (`max_age` empty)
  // fresh reads. A port held for TCP alone never reads the UDP table, nor one held for UDP alone the
  // TCP one.
  SocketTables read_tables(std::optional<std::chrono::nanoseconds> max_age) const {
    auto snapshot = [&](int type) {
      return max_age ? ListenerSnapshot::shared(*max_age, type) : ListenerSnapshot::read(type);
    };
    SocketTables tables;
    if (target_.sockets.serves_tcp) {
      tables.listeners = snapshot(SOCK_STREAM);
    }
    if (target_.sockets.serves_udp) {
      tables.udp_sockets = snapshot(SOCK_DGRAM);
    }
    return tables;
  }

  // The sockets on the port in `tables`, with their holders looked up only as far as needed to
  // tell every socket's owner, cheapest first: this process's descriptors, then those of the
  // listener processes and tree roots, then (one walk of /proc per root) the roots' descendants.
  // An idle port, or one where only the acceptor listens, costs no scan at all.
  PortListeners observe(const SocketTables& tables) const {
    PortListeners seen;
    for (const auto* snapshot : {tables.listeners.get(), tables.udp_sockets.get()}) {
      if (snapshot != nullptr) {
        seen.tables_read = seen.tables_read && snapshot->complete();
        const auto& on_port = snapshot->on_port(target_.port);
        seen.listeners.insert(seen.listeners.end(), on_port.begin(), on_port.end());
      }
    }
    const auto& sockets = target_.sockets;
    auto explained = [&] { return judge_listeners(seen, sockets).foreign.empty(); };
    if (explained()) {
      return seen;
    }
    for (const auto& listener : seen.listeners) {
      if (tables.of(listener).own_inodes().count(listener.inode) != 0) {
        seen.holders.this_process.insert(listener.inode);
      }
    }
    if (explained()) {
      return seen;
    }
    for (auto process : sockets.listener_processes) {
      note_sockets_of(process, tables, seen);
    }
    for (auto root : sockets.listener_process_trees) {
      note_sockets_of(root, tables, seen);
    }
    for (auto root : sockets.listener_process_trees) {
      if (explained()) {
        break;
      }
      auto descendants = descendants_of(root);
      for (auto descendant : descendants) {
        note_sockets_of(descendant, tables, seen);
      }
      seen.holders.descendants[root] = std::move(descendants);
    }
    return seen;
  }

  // Which of the sockets on the port `process` has open (its descriptors are scanned once per snapshot).
  static void note_sockets_of(pid_t process, const SocketTables& tables, PortListeners& seen) {
    for (const auto& listener : seen.listeners) {
      if (tables.of(listener).open_in_process(process, listener.inode)) {
        seen.holders.by_process[process].insert(listener.inode);
      }
    }
  }

  // The verdict on the facts as they are now. The first read of the tables is the snapshot shared
  // by the process's shields, which answers the idle case; a loss it suggests is confirmed on a
  // fresh read, taken after the scans of descriptors that the first judgement used.
  Verdict judge() const {
    auto max_age = std::min<std::chrono::nanoseconds>(target_.interval / 4, std::chrono::milliseconds(50));
    ShieldFacts facts;
    observe_names(facts);
    facts.service = target_.sockets;
    facts.expect_listener = target_.expect_listener;
    facts.grace = target_.grace;
    facts.since_start = std::chrono::steady_clock::now() - started_;
    facts.first = observe(read_tables(max_age));
    auto verdict = shield_verdict(facts);
    if (verdict.needs_confirmation) {
      facts.confirmation = observe(read_tables(std::nullopt));
      verdict = shield_verdict(facts);
    }
    if (verdict.loss == Loss::foreign_listener && closed_without_owner(verdict.foreign)) {
      verdict.loss.reset();  // judged again at the next check
    }
    return verdict;
  }

  // A process that exits gives up its descriptors a moment before its sockets close, and its
  // socket is listed meanwhile with no owner: the service's listener process dying looks
  // foreign to both reads. A socket no process is seen to hold is foreign only if it is still
  // listed after that walk of /proc (another user's process, whose descriptors cannot be read).
  bool closed_without_owner(const Listener& foreign) const {
    if (!describe_socket_owner(foreign.inode).empty()) {
      return false;
    }
    return !ListenerSnapshot::read(foreign.type)->listening(target_.port, foreign.inode);
  }

  // On the strand. The callback runs under callback_mutex_, so that stop() from another thread
  // waits for it; stop() from inside it sees its own thread id and does not wait.
  void report(const Verdict& verdict) {
    ShieldReport lost{
        verdict,
        {},
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_)};
    if (verdict.loss == Loss::foreign_listener) {
      lost.foreign_owner = describe_socket_owner(verdict.foreign.inode);
    }
    {
      std::lock_guard guard(callback_mutex_);
      if (stopped_.exchange(true)) {
        return;  // stopped meanwhile, or already reported
      }
      callback_thread_.store(std::this_thread::get_id());
      try {
        if (on_lost_) {
          on_lost_(target_, lost);
        }
      } catch (...) {  // ignored: documented on PortShield
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
  const std::chrono::steady_clock::time_point started_;

  std::atomic<bool> stopped_{false};
  std::atomic<bool> finish_posted_{false};
  std::mutex callback_mutex_;
  std::atomic<std::thread::id> callback_thread_{};
  std::mutex subscription_mutex_;
  std::unique_ptr<InotifyHub::Subscription> subscription_;
};

}  // namespace portpool::detail
