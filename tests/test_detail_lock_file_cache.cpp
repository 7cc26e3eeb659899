// impl/lock_file_cache.hpp: a manager keeps the lock files it released open (unlocked) and locks
// them again for its next holds. Each case fails without the guard it names: no copy of a kept
// file across a fork, one owner per kept file among threads, a bounded number kept, nothing left
// open after the manager, a kept file that no longer serves (deleted, linked, moved) never used,
// a shared hold (a fork, a handed-out descriptor) closed rather than unlocked, nothing kept across
// exec.

#include <portpool/port_pool_manager.hpp>
#include <portpool/unique_fd.hpp>

#include "fixtures.hpp"
#include "holder.hpp"
#include "holding_child.hpp"
#include "ports.hpp"
#include "simultaneous_holds.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

namespace {

// The identity of the file a path names now.
LockFileIdentity identity_of(const std::filesystem::path& path) {
  struct stat status {};
  REQUIRE(::stat(path.c_str(), &status) == 0);
  return {status.st_dev, status.st_ino};
}

bool same_file(const LockFileIdentity& left, const LockFileIdentity& right) {
  return left.device == right.device && left.inode == right.inode;
}

// A decorator that refuses every port but the one `allowed` names, so that one manager takes the
// ports of a large pool one after the other.
class OnePortAtATime {
 public:
  OnePortAtATime(const Options& options, std::shared_ptr<std::atomic<std::uint16_t>> allowed)
      : files_(options), allowed_(std::move(allowed)) {}

  LockAttempt try_lock(const Holder& holder, bool explain) const {
    if (holder.port != allowed_->load()) {
      return {std::nullopt, explain ? "not its turn" : "", RefusalReason::lock_unusable, std::nullopt};
    }
    return files_.try_lock(holder, explain);
  }

  const std::filesystem::path& lock_dir() const noexcept { return files_.lock_dir(); }

 private:
  FileLockPolicy files_;
  std::shared_ptr<std::atomic<std::uint16_t>> allowed_;
};

}  // namespace

TEST_CASE("a lock file kept open before a fork serves neither the child nor the parent as a second holder") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  manager.acquire().release();  // the manager keeps the lock file open

  SECTION("the child takes the port: the parent is refused") {
    HoldingChild child([&](HoldingChild::Hold& hold) {
      auto lease = manager.try_acquire();
      hold.hold(lease ? "held" : "refused");
    });
    REQUIRE(child.report() == "held");
    CHECK_FALSE(manager.try_acquire().has_value());
    child.release();
    CHECK(manager.try_acquire().has_value());
  }

  SECTION("the parent takes the port: the child is refused") {
    int go[2];
    REQUIRE(::pipe2(go, O_CLOEXEC) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(go[1]);
      char ignored = 0;
      static_cast<void>(::read(go[0], &ignored, 1));
      auto lease = manager.try_acquire();
      std::_Exit(lease ? 1 : 0);
    }
    ::close(go[0]);
    auto lease = manager.try_acquire();
    static_cast<void>(::write(go[1], "x", 1));
    ::close(go[1]);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(lease.has_value());
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // 1: the child held the port too
  }
}

TEST_CASE("threads sharing one manager never take one kept lock file twice") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto holds = count_simultaneous_holds(ports.ports(), 6, 500,
                                        [&manager] { return [&manager] { return manager.try_acquire(); }; });
  CHECK(holds.violations == 0);
  CHECK(holds.acquisitions > 0);
}

TEST_CASE("a manager cycling through a thousand ports keeps only a few lock files open") {
  TempDir directory;
  auto options = options_in(directory);
  options.allow_fetch_blocked_ports = true;
  std::vector<std::uint16_t> pool;
  for (std::uint16_t port = 20000; port < 21000; ++port) {
    pool.push_back(port);  // lock files only: NoProbe never binds them
  }
  auto allowed = std::make_shared<std::atomic<std::uint16_t>>(0);
  const auto before = open_descriptors();
  {
    BasicPortPoolManager<OnePortAtATime, NoProbe> manager("api", pool, options, OnePortAtATime(options, allowed));
    for (auto port : pool) {
      allowed->store(port);
      auto lease = manager.try_acquire();
      REQUIRE(lease.has_value());
      REQUIRE(lease->port() == port);
    }
    CHECK(open_descriptors() <= before + 1 + detail::LockFileCache::capacity);  // 1: the lock directory
  }
  CHECK(open_descriptors() == before);
}

TEST_CASE("a lease that outlives its manager closes its lock file, and a manager closes what it kept") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  PortPoolManager("warm-up", ports.ports(), options_in(directory)).acquire().release();  // what the probe keeps
  const auto before = open_descriptors();
  std::optional<PortLease> outliving;
  {
    PortPoolManager manager("api", ports.ports(), options_in(directory));
    manager.acquire().release();
    outliving = manager.acquire();
    manager.acquire().release();
  }
  CHECK(outliving->held());
  outliving.reset();
  CHECK(open_descriptors() == before);
  CHECK(free_for_another_process(directory, ports[0]));
}

TEST_CASE("a kept lock file whose name no longer names it is dropped, never trusted nor refused for") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto lease = manager.acquire();
  const auto path = lease.lock_file();
  lease.release();

  SECTION("deleted: the new file is locked") {
    std::filesystem::remove(path);
    auto again = manager.acquire();
    CHECK(same_file(again.lock_file_identity(), identity_of(path)));
    CHECK_FALSE(free_for_another_process(directory, ports[0]));
  }

  SECTION("replaced by another file: that one is locked") {
    auto replacement = directory.lock_dir() / "replacement";
    { UniqueFd created(::open(replacement.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600)); }
    std::filesystem::rename(replacement, path);
    auto again = manager.acquire();
    CHECK(same_file(again.lock_file_identity(), identity_of(path)));
    CHECK_FALSE(free_for_another_process(directory, ports[0]));
  }

  SECTION("given a second name: the port is refused, as for any lock file with two names") {
    std::filesystem::create_hard_link(path, directory.lock_dir() / "second-name");
    std::string message;
    try {
      manager.acquire();
    } catch (const PoolExhausted& error) {
      message = error.what();
    }
    CHECK_THAT(message, Contains("hard links"));
  }

  SECTION("in a lock directory moved away: the file at the directory's path is locked") {
    std::filesystem::rename(directory.lock_dir(), directory.path() / "moved");
    auto again = manager.acquire();
    CHECK(again.lock_file() == path);
    CHECK(same_file(again.lock_file_identity(), identity_of(path)));
    CHECK_FALSE(free_for_another_process(directory, ports[0]));
  }
}

TEST_CASE("a hold another process or descriptor may share is closed on release, not unlocked") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  manager.acquire().release();
  auto lease = manager.acquire();

  SECTION("forked during the hold: the child's copy keeps the port until it exits") {
    HoldingChild child([](HoldingChild::Hold& hold) { hold.hold("forked"); });
    lease.release();
    CHECK_FALSE(free_for_another_process(directory, ports[0]));
    child.release();
    CHECK(free_for_another_process(directory, ports[0]));
  }

  SECTION("its descriptor handed out: a duplicate keeps the port until it is closed") {
    UniqueFd duplicate(::fcntl(lease.lock_descriptor(), F_DUPFD_CLOEXEC, 0));
    REQUIRE(duplicate);
    lease.release();
    CHECK_FALSE(free_for_another_process(directory, ports[0]));
    duplicate.reset();
    CHECK(free_for_another_process(directory, ports[0]));
  }
}

TEST_CASE("a kept lock file never reaches a program the process executes") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  manager.acquire().release();
  // grep fails (1) when no descriptor of the executed shell's listing leads into the lock directory.
  auto command = fmt::format("ls -l /proc/self/fd/ | grep -qF '{}'", directory.lock_dir().string());
  auto status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
}
