#pragma once

// One inotify instance per execution context (io_context), shared by every shield running on it.
//
// The kernel limits inotify instances per user (fs.inotify.max_user_instances, often 128), so a
// thousand shields cannot each have their own. The hub holds one inotify descriptor, wrapped in a
// boost::asio::posix::stream_descriptor and read on its own strand, and one watch per lock
// directory (inotify gives the same watch to the same directory inode, so the hub counts the
// subscribers of each watch and removes it with the last one). An event naming a file wakes the
// subscribers of that file; an event about the directory itself, or a queue overflow, wakes every
// subscriber of the watch (or of the hub).
//
// Waking only asks: the subscriber's wake function posts a check to the shield's strand, and the
// check compares device and inode with what was locked. So a missed or spurious event costs
// nothing but latency, and polling remains the safety net.
//
// The hub lives while it has subscribers; when the last one leaves it gives up its descriptor, its
// pending read ends, and the io_context can run out of work. Closing an inotify descriptor waits
// for an RCU grace period in the kernel (6 to 12 ms measured), far longer than a check, so the
// descriptor is not closed on the executor's thread: it is kept as a spare (never more than the
// hubs that once existed at the same time, never reused by a forked child) and reused, after
// draining, by the next hub.

#include <portpool/detail/test_hook.hpp>
#include <portpool/unique_fd.hpp>

#include <sys/inotify.h>
#include <sys/types.h>
#include <unistd.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/strand.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace portpool::detail {

class InotifyHub : public std::enable_shared_from_this<InotifyHub> {
 public:
  /// What a directory watch reports: changes of its entries and of the directory itself.
  static constexpr std::uint32_t watch_mask =
      IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;

  /// One subscriber's registration; unsubscribes when destroyed. After the destructor returns
  /// the wake function is not running and will never be called again.
  class Subscription {
   public:
    Subscription(std::shared_ptr<InotifyHub> hub, int watch, std::uint64_t id)
        : hub_(std::move(hub)), watch_(watch), id_(id) {}
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    Subscription(Subscription&&) = delete;
    Subscription& operator=(Subscription&&) = delete;
    ~Subscription() { hub_->unsubscribe(watch_, id_); }

   private:
    std::shared_ptr<InotifyHub> hub_;
    int watch_;
    std::uint64_t id_;
  };

  /// Watches `file` (by its name in its directory) for the shields on `executor`'s context:
  /// `wake` is called, on the hub's strand, whenever the file's directory entry may have
  /// changed. Null when inotify is unavailable (no instance or watch could be had): the caller
  /// then relies on polling alone.
  static std::unique_ptr<Subscription> subscribe(const boost::asio::any_io_executor& executor,
                                                 const std::filesystem::path& file, std::function<void()> wake) {
    if (!inotify_enabled()) {
      return nullptr;
    }
    auto& registry = hubs();
    std::lock_guard guard(registry.mutex);
    const void* key = &boost::asio::query(executor, boost::asio::execution::context);
    std::shared_ptr<InotifyHub> hub;
    if (auto found = registry.by_context.find(key); found != registry.by_context.end()) {
      hub = found->second.lock();
    }
    if (!hub) {
      UniqueFd fd = take_spare();
      if (!fd) {
        fd.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
      }
      if (!fd) {
        return nullptr;
      }
      hub = std::make_shared<InotifyHub>(executor, std::move(fd), key);
      registry.by_context[key] = hub;
      hub->start();
    }
    return hub->add(registry, file, std::move(wake));
  }

  InotifyHub(const boost::asio::any_io_executor& executor, UniqueFd fd, const void* key)
      : strand_(boost::asio::make_strand(executor)), descriptor_(strand_), fd_(fd.get()), key_(key) {
    descriptor_.assign(fd.release());
  }

 private:
  struct Subscriber {
    std::uint64_t id;
    std::string name;
    std::function<void()> wake;
  };

  struct Registry {
    std::mutex mutex;
    std::map<const void*, std::weak_ptr<InotifyHub>> by_context;
  };

  static Registry& hubs() {
    static auto& registry = *new Registry;  // never destroyed: a static shield may unsubscribe during exit
    return registry;
  }

  struct Spares {
    std::mutex mutex;
    pid_t pid = 0;
    std::vector<int> fds;
  };

  static Spares& spares() {
    static auto& pool = *new Spares;  // never destroyed, as hubs()
    return pool;
  }

  // An idle inotify descriptor of this process, its queue drained (watches were all removed, so
  // only their IN_IGNORED events can be left), or an empty one.
  static UniqueFd take_spare() {
    auto& pool = spares();
    std::lock_guard guard(pool.mutex);
    if (pool.pid != ::getpid() || pool.fds.empty()) {
      return {};
    }
    UniqueFd fd(pool.fds.back());
    pool.fds.pop_back();
    std::array<char, 4096> drain{};
    while (::read(fd.get(), drain.data(), drain.size()) > 0) {
    }
    return fd;
  }

  // Keeps `fd` for the next hub. Never closed: the spares never outnumber the hubs that once
  // existed at the same time, and closing one would block this thread for milliseconds.
  static void give_back(int fd) {
    auto& pool = spares();
    std::lock_guard guard(pool.mutex);
    if (pool.pid != ::getpid()) {
      pool.pid = ::getpid();
      pool.fds.clear();  // a forked child's copies of its parent's spares: never read them
    }
    pool.fds.push_back(fd);
  }

 public:
  /// How many idle inotify descriptors the process keeps for reuse (for tests).
  static std::size_t spare_count() {
    auto& pool = spares();
    std::lock_guard guard(pool.mutex);
    return pool.pid == ::getpid() ? pool.fds.size() : 0;
  }

 private:
  void start() {
    boost::asio::post(strand_, [self = shared_from_this()] { self->read(); });
  }

  // Called with the registry mutex held.
  std::unique_ptr<Subscription> add(Registry& registry, const std::filesystem::path& file, std::function<void()> wake) {
    std::lock_guard guard(mutex_);
    auto directory = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
    int watch = closing_ ? -1 : ::inotify_add_watch(fd_, directory.c_str(), watch_mask);
    if (watch < 0) {
      if (subscriber_count_ == 0) {
        forget_locked(registry);
      }
      return nullptr;
    }
    auto id = ++last_id_;
    watches_[watch].push_back(Subscriber{id, file.filename().string(), std::move(wake)});
    ++subscriber_count_;
    return std::make_unique<Subscription>(shared_from_this(), watch, id);
  }

  void unsubscribe(int watch, std::uint64_t id) {
    auto& registry = hubs();
    std::lock_guard registry_guard(registry.mutex);
    std::lock_guard guard(mutex_);
    --subscriber_count_;
    // The watch may be gone already (IN_IGNORED, or the hub failed), its number even reused by a
    // new watch of the same hub: subscriber ids are unique, so only this subscriber is removed.
    if (auto found = watches_.find(watch); found != watches_.end()) {
      auto& subscribers = found->second;
      for (auto it = subscribers.begin(); it != subscribers.end(); ++it) {
        if (it->id == id) {
          subscribers.erase(it);
          break;
        }
      }
      if (subscribers.empty()) {
        if (!closing_) {
          ::inotify_rm_watch(fd_, watch);
        }
        watches_.erase(found);
      }
    }
    if (subscriber_count_ == 0) {
      forget_locked(registry);
    }
  }

  // Called with both mutexes held: the hub leaves the registry (a later subscriber gets a new
  // one) and closes.
  void forget_locked(Registry& registry) {
    if (auto entry = registry.by_context.find(key_);
        entry != registry.by_context.end() && entry->second.lock().get() == this) {
      registry.by_context.erase(entry);
    }
    close_locked();
  }

  // Called with mutex_ held: from now on the hub takes no subscriber, and its read loop ends.
  void close_locked() {
    if (closing_) {
      return;
    }
    closing_ = true;
    boost::asio::post(strand_, [self = shared_from_this()] {
      if (!self->descriptor_.is_open()) {
        return;
      }
      bool failed = false;
      {
        std::lock_guard guard(self->mutex_);
        failed = self->failed_;
      }
      if (failed) {
        boost::system::error_code ignored;
        self->descriptor_.close(ignored);
      } else {
        give_back(self->descriptor_.release());  // ends the pending read, without a slow close()
      }
    });
  }

  void read() {
    descriptor_.async_read_some(
        boost::asio::buffer(buffer_),
        boost::asio::bind_executor(
            strand_, [self = shared_from_this()](boost::system::error_code error, std::size_t size) {
              {
                std::lock_guard guard(self->mutex_);
                if (self->closing_) {
                  return;
                }
              }
              if (!error) {
                self->dispatch(size);
              } else if (error != boost::asio::error::operation_aborted && error != boost::asio::error::would_block &&
                         error != boost::asio::error::try_again) {
                self->fail();  // subscribers fall back to polling
                return;
              }
              self->read();
            }));
  }

  // The descriptor failed: subscribers keep polling, new ones get a new hub.
  void fail() {
    auto& registry = hubs();
    std::lock_guard registry_guard(registry.mutex);
    std::lock_guard guard(mutex_);
    failed_ = true;
    forget_locked(registry);
  }

  void dispatch(std::size_t size) {
    std::lock_guard guard(mutex_);
    std::size_t offset = 0;
    while (offset + sizeof(inotify_event) <= size) {
      inotify_event header{};
      std::memcpy(&header, buffer_.data() + offset, sizeof header);
      std::string name;
      if (header.len > 0) {
        const char* start = buffer_.data() + offset + sizeof header;
        name.assign(start, ::strnlen(start, header.len));
      }
      offset += sizeof header + header.len;
      if ((header.mask & IN_Q_OVERFLOW) != 0) {
        for (auto& watch : watches_) {
          wake_all(watch.second);
        }
        continue;
      }
      auto found = watches_.find(header.wd);
      if (found == watches_.end()) {
        continue;
      }
      if (name.empty()) {
        wake_all(found->second);  // the directory itself was deleted, moved or unwatched
      } else {
        for (auto& subscriber : found->second) {
          if (subscriber.name == name) {
            subscriber.wake();
          }
        }
      }
      if ((header.mask & IN_IGNORED) != 0) {
        watches_.erase(found);  // the kernel dropped the watch; its subscribers now only poll
      }
    }
  }

  static void wake_all(std::vector<Subscriber>& subscribers) {
    for (auto& subscriber : subscribers) {
      subscriber.wake();
    }
  }

  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::posix::stream_descriptor descriptor_;
  int fd_;
  const void* key_;
  std::mutex mutex_;
  std::map<int, std::vector<Subscriber>> watches_;
  std::size_t subscriber_count_ = 0;
  std::uint64_t last_id_ = 0;
  bool closing_ = false;
  bool failed_ = false;
  alignas(inotify_event) std::array<char, 16384> buffer_{};
};

}  // namespace portpool::detail
