// fork() from a multi-threaded process: the child gets one thread, and any mutex another thread
// held at the fork stays locked forever in the child. The library keeps no process-wide lock on
// the acquire/release/registry paths, so such a child can still use it.

#include <portpool/port_pool_manager.hpp>
#include <portpool/port_shield.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "in_child.hpp"
#include "ports.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <unistd.h>

#include <atomic>
#include <iostream>
#include <thread>
#include <vector>

using namespace portpool;
using namespace portpool::test;

// The allocators of AddressSanitizer and ThreadSanitizer (clang 14) can be locked by another thread
// at fork(), and the child then hangs in malloc (seen in fdopendir under ThreadSanitizer) before it
// reaches the library: nothing of portpool's to test there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PORTPOOL_TEST_UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PORTPOOL_TEST_UNDER_SANITIZER 1
#endif
#endif

TEST_CASE("a child forked while other threads acquire, release and shield can still use the library") {
#ifdef PORTPOOL_TEST_UNDER_SANITIZER
  PORTPOOL_SKIP("built with a sanitizer, whose own allocator lock can hang a child forked from threads");
#endif
  TempDir directory;
  auto ports = ReservedPorts::any(6);
  auto options = options_in(directory);
  std::atomic<bool> stop{false};

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  PortPoolManager shielded("shielded", {ports[0]}, options);
  auto shielded_lease = shielded.acquire();
  ShieldOptions shield_options;
  shield_options.interval = std::chrono::milliseconds(1);
  PortShield shield(
      io.get_executor(), shielded_lease, [](const ShieldEvent&) {}, shield_options);
  std::thread shield_thread([&io] { io.run(); });

  std::vector<std::thread> churners;
  for (std::size_t index = 1; index <= 2; ++index) {
    churners.emplace_back([&, index] {
      PortPoolManager manager("churn", {ports[index]}, options);
      while (!stop.load()) {
        auto lease = manager.try_acquire();
        static_cast<void>(Registry::holders(options));
      }
    });
  }

  // Every thread is joined before anything is required: a failed case must report, not abort.
  int last_fork = -1;
  int code = 0;
  for (int fork_number = 0; fork_number < 40 && code == 0; ++fork_number) {
    last_fork = fork_number;
    code = in_child([&] {
      ::alarm(20);  // a deadlock ends as SIGALRM, not as a hung test
      if (Registry::holders(options).empty()) {
        std::cerr << "the child sees no holder\n";
        return 1;
      }
      PortPoolManager manager("child", {ports[3], ports[4], ports[5]}, options);
      auto lease = manager.acquire();
      return lease.held() ? 0 : 2;
    });
  }

  stop.store(true);
  for (auto& churner : churners) {
    churner.join();
  }
  shield.stop();
  work.reset();
  io.stop();
  shield_thread.join();
  CAPTURE(last_fork);
  REQUIRE(code == 0);
}
