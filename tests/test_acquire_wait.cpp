// Waiting for a port: acquire_for / acquire_until / try_ forms / acquire_listening_for of
// port_pool_manager.hpp, against holders in other processes that release, die or listen.

#include <portpool/detail/test_hook.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/port_pool_manager.hpp>

#include "fixtures.hpp"
#include "holder.hpp"
#include "ports.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <signal.h>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

namespace {

// Counts this process's lock attempts, so that a test can release a port once a waiter has found
// the pool exhausted at least once (the release then comes during the attempt or the wait).
std::atomic<int> lock_attempts{0};

class CountingAttempts {
 public:
  CountingAttempts() {
    lock_attempts = 0;
    detail::step_hook = [](std::string_view step) {
      if (step == "lock-file-opened") {
        ++lock_attempts;
      }
    };
  }
  CountingAttempts(const CountingAttempts&) = delete;
  CountingAttempts& operator=(const CountingAttempts&) = delete;
  CountingAttempts(CountingAttempts&&) = delete;
  CountingAttempts& operator=(CountingAttempts&&) = delete;
  ~CountingAttempts() { detail::step_hook = nullptr; }
};

// A waiter far from its deadline: a release that did not wake it would leave it waiting for a minute.
constexpr auto long_wait = std::chrono::minutes(1);
// How long a test gives a woken waiter; far below long_wait, far above any wake-up.
constexpr auto woken_within = std::chrono::seconds(30);

// A lock policy that refuses every port while `claimed_elsewhere` is set, as a fleet-wide claim
// held by another host does: giving the claim back changes nothing in the lock directory.
class ClaimedElsewherePolicy {
 public:
  ClaimedElsewherePolicy(const Options& options, std::shared_ptr<std::atomic<bool>> claimed_elsewhere,
                         std::shared_ptr<std::atomic<int>> attempts)
      : files_(options), claimed_elsewhere_(std::move(claimed_elsewhere)), attempts_(std::move(attempts)) {}

  LockAttempt try_lock(const Holder& holder, bool explain) const {
    ++*attempts_;
    if (*claimed_elsewhere_) {
      return {std::nullopt, explain ? "claimed by another host" : "", RefusalReason::claimed_elsewhere, std::nullopt};
    }
    return files_.try_lock(holder, explain);
  }

  const std::filesystem::path& lock_dir() const noexcept { return files_.lock_dir(); }

 private:
  FileLockPolicy files_;
  std::shared_ptr<std::atomic<bool>> claimed_elsewhere_;
  std::shared_ptr<std::atomic<int>> attempts_;
};

template <class Result>
bool ready_within(std::future<Result>& result, std::chrono::seconds bound) {
  return result.wait_for(bound) == std::future_status::ready;
}

// A pool of one port, held by another process (`holder`, which releases when its input closes), and
// this process's manager of the pool.
struct OnePortHeldElsewhere {
  TempDir directory;
  ReservedPorts ports = ReservedPorts::any(1);
  ChildProcess holder = spawn_port_holder(directory.lock_dir(), "web", ports.ports());
  PortPoolManager manager{"web", ports.ports(), options_in(directory)};

  OnePortHeldElsewhere() { REQUIRE(acquired_by(holder) == ports[0]); }
};

}  // namespace

TEST_CASE("acquire_for gets a port that another process releases while it waits") {
  CountingAttempts attempts;
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto first = spawn_port_holder(directory.lock_dir(), "web", ports.ports());
  REQUIRE(acquired_by(first) == ports[0]);
  auto second = spawn_port_holder(directory.lock_dir(), "web", ports.ports());
  REQUIRE(acquired_by(second) == ports[1]);
  PortPoolManager manager("web", ports.ports(), options_in(directory));

  auto waiter = std::async(std::launch::async, [&] { return manager.acquire_for(long_wait); });
  REQUIRE(wait_until([] { return lock_attempts >= 2; }));
  second.close_stdin();
  REQUIRE(ready_within(waiter, woken_within));
  auto lease = waiter.get();
  CHECK(lease.port() == ports[1]);
  CHECK(second.read_line() == "RELEASED");
}

TEST_CASE_METHOD(OnePortHeldElsewhere, "a holder killed with SIGKILL wakes the waiter") {
  CountingAttempts attempts;

  auto start = std::chrono::steady_clock::now();
  auto waiter = std::async(std::launch::async, [&] { return manager.try_acquire_for(long_wait); });
  REQUIRE(wait_until([] { return lock_attempts >= 1; }));
  holder.signal(SIGKILL);
  holder.wait();
  REQUIRE(ready_within(waiter, woken_within));
  auto lease = waiter.get();
  REQUIRE(lease.has_value());
  CHECK(lease->port() == ports[0]);
  WARN("taken "
       << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count()
       << " ms after the wait began");
}

TEST_CASE_METHOD(OnePortHeldElsewhere,
                 "a waiter that times out throws acquire()'s PoolExhausted, not before its deadline") {
  std::string expected;
  try {
    manager.acquire();
  } catch (const PoolExhausted& error) {
    expected = error.what();
  }
  REQUIRE_THAT(expected, Contains(std::to_string(holder.pid())));

  const auto timeout = std::chrono::milliseconds(300);
  auto descriptors = open_descriptors();
  auto start = std::chrono::steady_clock::now();
  std::string message;
  try {
    manager.acquire_for(timeout);
  } catch (const PoolExhausted& error) {
    message = error.what();
  }
  CHECK(std::chrono::steady_clock::now() - start >= timeout);
  CHECK(message == expected);
  CHECK(open_descriptors() == descriptors);

  start = std::chrono::steady_clock::now();
  CHECK_FALSE(manager.try_acquire_until(std::chrono::system_clock::now() + timeout).has_value());
  CHECK(std::chrono::steady_clock::now() - start >= timeout);
  CHECK_THROWS_AS(manager.acquire_for(std::chrono::seconds(0)), PoolExhausted);
  CHECK_THROWS_AS(manager.acquire_for(std::chrono::milliseconds(-5)), PoolExhausted);
  CHECK(open_descriptors() == descriptors);
}

TEST_CASE("a free pool is taken at once, and a huge timeout is no overflow") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("web", ports.ports(), options_in(directory));
  manager.acquire().release();  // the manager keeps the lock file open between holds from here on
  auto descriptors = open_descriptors();
  {
    auto lease = manager.acquire_until(std::chrono::steady_clock::time_point::max());
    CHECK(lease.port() == ports[0]);
  }
  CHECK(manager.acquire_for(std::chrono::hours::max()).port() == ports[0]);
  CHECK(manager.acquire_for(std::chrono::duration<double>(0.5)).port() == ports[0]);
  CHECK(open_descriptors() == descriptors);
}

TEST_CASE_METHOD(OnePortHeldElsewhere,
                 "several waiting threads and one released port: exactly one takes it, the others keep waiting") {
  constexpr int waiters = 3;
  std::mutex mutex;
  std::condition_variable changed;
  int taken = 0;         // how many waiters have held the port
  int let_go = 0;        // how many of them were told to release it
  bool holding = false;  // whether one of them holds it now
  bool overlap = false;
  std::vector<std::thread> threads;
  threads.reserve(waiters);
  for (int index = 0; index < waiters; ++index) {
    threads.emplace_back([&] {
      auto lease = manager.try_acquire_for(long_wait);
      std::unique_lock lock(mutex);
      if (!lease) {
        return;
      }
      overlap = overlap || holding;
      holding = true;
      const int mine = ++taken;
      changed.notify_all();
      changed.wait(lock, [&] { return let_go >= mine; });
      holding = false;
      lease->release();
    });
  }
  holder.close_stdin();
  for (int round = 1; round <= waiters; ++round) {
    std::unique_lock lock(mutex);
    REQUIRE(changed.wait_for(lock, woken_within, [&] { return taken >= round; }));
    CHECK(taken == round);  // one port, one waiter served
    ++let_go;
    changed.notify_all();
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(taken == waiters);
  CHECK_FALSE(overlap);
}

TEST_CASE("a port another program listens on is re-checked while waiting, and taken once it stops") {
  CountingAttempts attempts;
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  std::optional<UniqueFd> listener(listen_on(ports[0]));
  PortPoolManager manager("web", ports.ports(), options_in(directory));

  auto waiter = std::async(std::launch::async, [&] { return manager.acquire_for(long_wait); });
  REQUIRE(wait_until([] { return lock_attempts >= 2; }));  // refused, then re-checked
  listener.reset();
  REQUIRE(ready_within(waiter, woken_within));
  CHECK(waiter.get().port() == ports[0]);
}

TEST_CASE("a port refused with no local event (a claim of another host) is re-checked while waiting") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  auto claimed_elsewhere = std::make_shared<std::atomic<bool>>(true);
  auto attempts = std::make_shared<std::atomic<int>>(0);
  BasicPortPoolManager<ClaimedElsewherePolicy, BindProbe> manager(
      "web", ports.ports(), options, ClaimedElsewherePolicy(options, claimed_elsewhere, attempts));

  CHECK_THROWS_WITH(manager.acquire_for(std::chrono::milliseconds(100)), Contains("claimed by another host"));
  auto waiter = std::async(std::launch::async, [&] { return manager.acquire_for(long_wait); });
  REQUIRE(wait_until([&] { return *attempts >= 4; }));  // two above; the waiter's first walk and a re-check
  *claimed_elsewhere = false;
  REQUIRE(ready_within(waiter, woken_within));
  CHECK(waiter.get().port() == ports[0]);
}

TEST_CASE_METHOD(OnePortHeldElsewhere, "without inotify, the waiter re-checks and still gets a released port") {
  CountingAttempts attempts;

  detail::inotify_switch = false;
  auto waiter = std::async(std::launch::async, [&] { return manager.acquire_for(long_wait); });
  REQUIRE(wait_until([] { return lock_attempts >= 1; }));
  holder.close_stdin();
  bool ready = ready_within(waiter, woken_within);
  detail::inotify_switch = true;
  REQUIRE(ready);
  CHECK(waiter.get().port() == ports[0]);
}

TEST_CASE_METHOD(OnePortHeldElsewhere, "acquire_listening_for waits for a release, then listens on the port") {
  CountingAttempts attempts;
  boost::asio::io_context io;

  auto waiter =
      std::async(std::launch::async, [&] { return manager.acquire_listening_for(io.get_executor(), long_wait); });
  REQUIRE(wait_until([] { return lock_attempts >= 1; }));
  holder.close_stdin();
  REQUIRE(ready_within(waiter, woken_within));
  auto listening = waiter.get();
  CHECK(listening.port() == ports[0]);
  CHECK(listening.acceptor.is_open());
  CHECK(listening.acceptor.local_endpoint().port() == ports[0]);

  auto again = std::async(std::launch::async, [&] {
    return manager.acquire_listening_for(io.get_executor(), std::chrono::milliseconds(100));
  });
  CHECK_THROWS_AS(again.get(), PoolExhausted);
}
