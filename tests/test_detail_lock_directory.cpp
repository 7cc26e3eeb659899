// The lock directory (impl/lock_directory.hpp): what portpool refuses to use (a symbolic link,
// a directory others may write, another user's directory or lock file, a lock file that is not a
// regular file), and a directory shared on purpose (Options::shared_lock_dir) by two real uids:
// the tests run as root in CI and drop to `nobody` in forked children, since root ignores
// permission bits.

#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "holding_child.hpp"
#include "in_child.hpp"
#include "ports.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

namespace fs = std::filesystem;

namespace {

/// In a child running as nobody: a manager of `ports` acquires, which must give the second port;
/// then `check(events of that acquisition)` runs while the port is still held. The child's exit code:
/// 1 when another port was given, else what `check` returned (0 when all was as expected).
template <class Check>
int other_user_takes_second_port(const Options& options, const ReservedPorts& ports, Check check) {
  return in_child(
      [&] {
        std::vector<Event> events;
        PortPoolManager manager("other-user", ports.ports(), with_recording(options, events));
        auto taken = manager.acquire();
        if (taken.port() != ports[1]) {
          std::cerr << "the other user got " << taken.port() << '\n';
          return 1;
        }
        return check(events);
      },
      true);
}

/// A child running as nobody that holds `port` until destroyed; its report is "1" when it holds.
class HolderAsNobody {
 public:
  HolderAsNobody(const Options& options, std::uint16_t port)
      : child_([&](HoldingChild::Hold& hold) {
          if (::setgid(nobody()) != 0 || ::setuid(nobody()) != 0) {
            return;
          }
          PortPoolManager manager("other-user", {port}, options);
          auto lease = manager.acquire();
          hold.hold(lease.held() ? "1" : "0");
        }) {}

  bool holds() const { return child_.report() == "1"; }
  pid_t pid() const { return child_.pid(); }

 private:
  HoldingChild child_;
};

}  // namespace

TEST_CASE("a lock directory that is a symbolic link is refused") {
  TempDir directory;
  fs::create_directory(directory.path() / "real");
  fs::permissions(directory.path() / "real", fs::perms::owner_all);
  fs::create_directory_symlink(directory.path() / "real", directory.lock_dir());
  auto options = options_in(directory);
  CHECK_THROWS_WITH(PortPoolManager("api", {5000}, options),
                    Contains("symbolic link") && Contains("PORTPOOL_LOCK_DIR"));
  CHECK_THROWS_AS(Registry::holders(directory.lock_dir()), LockDirError);
  CHECK(fs::is_empty(directory.path() / "real"));
}

TEST_CASE("a lock directory writable by group or others is refused unless shared on purpose") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  fs::create_directory(directory.lock_dir());
  fs::permissions(directory.lock_dir(), fs::perms::all);
  auto options = options_in(directory);
  CHECK_THROWS_WITH(PortPoolManager("api", ports.ports(), options),
                    Contains("writable by group or others") && Contains("chmod 700") && Contains("0777"));
  CHECK(fs::is_empty(directory.lock_dir()));
  options.shared_lock_dir = true;
  PortPoolManager manager("api", ports.ports(), options);
  CHECK(manager.acquire().port() == ports[0]);
}

TEST_CASE("another user's lock directory is refused") {
  if (::geteuid() != 0) {
    PORTPOOL_SKIP("needs root to give a directory to another user");
  }
  TempDir directory;
  directory.create_private_lock_dir();
  REQUIRE(::chown(directory.lock_dir().c_str(), nobody(), nobody()) == 0);
  CHECK_THROWS_WITH(PortPoolManager("api", {5000}, options_in(directory)),
                    Contains("belongs to uid " + std::to_string(nobody())) && Contains("not to you"));
}

TEST_CASE("a lock directory that cannot be written gives a clear error and holds nothing") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  fs::create_directory(directory.lock_dir());
  fs::permissions(directory.lock_dir(), fs::perms::owner_read | fs::perms::owner_exec, fs::perm_options::replace);
  if (::geteuid() == 0) {
    REQUIRE(::chown(directory.path().c_str(), nobody(), nobody()) == 0);
    REQUIRE(::chown(directory.lock_dir().c_str(), nobody(), nobody()) == 0);
  }
  auto options = options_in(directory);
  auto code = in_child(
      [&] {
        try {
          PortPoolManager manager("api", ports.ports(), options);
          manager.acquire();
          return 1;
        } catch (const LockDirError& error) {
          std::string text = error.what();
          return text.find("Permission denied") != std::string::npos && text.find("writable") != std::string::npos ? 0
                                                                                                                   : 2;
        }
      },
      true);
  CHECK(code == 0);
  CHECK(fs::is_empty(directory.lock_dir()));
}

TEST_CASE("a lock file that is a symbolic link or a FIFO is never followed nor used") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  directory.create_private_lock_dir();
  auto target = directory.path() / "precious";
  std::ofstream(target) << "keep me";
  fs::create_symlink(target, directory.lock_file(ports[0]));
  auto fifo = directory.lock_file(ports[1]);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);

  std::vector<Event> events;
  PortPoolManager manager("api", ports.ports(), recording_options(directory, events));
  auto lease = manager.acquire();
  CHECK(lease.port() == ports[2]);
  REQUIRE(events.size() >= 2);
  CHECK_THAT(events[0].message, Contains("symbolic link"));
  CHECK_THAT(events[1].message, Contains("not a regular file"));
  std::ifstream kept(target);
  std::string content;
  std::getline(kept, content);
  CHECK(content == "keep me");
}

TEST_CASE("two users on a shared lock directory exclude each other and see each other's holders") {
  if (::geteuid() != 0) {
    PORTPOOL_SKIP("needs root to run a second user (nobody) in a child process");
  }
  TempDir directory;
  auto options = shared_options_in(directory);
  auto ports = ReservedPorts::any(2);
  PortPoolManager mine("root-service", {ports[0]}, options);
  auto lease = mine.acquire();

  auto code = other_user_takes_second_port(options, ports, [&](const std::vector<Event>& events) {
    if (events.empty() || events[0].message.find("held by pid " + std::to_string(::getppid())) == std::string::npos) {
      std::cerr << "the first port was not refused as root's: " << (events.empty() ? "" : events[0].message) << '\n';
      return 2;
    }
    if (Registry::holders(options).size() != 2) {
      std::cerr << "the other user does not see both holders\n";
      return 3;
    }
    return 0;
  });
  CHECK(code == 0);

  lease.release();
  HolderAsNobody other(options, ports[0]);  // root's lock file, created for sharing, works for nobody
  REQUIRE(other.holds());
  CHECK_FALSE(mine.try_acquire().has_value());
  auto holder = Registry::holder_of(ports[0], options);
  REQUIRE(holder.has_value());
  CHECK(holder->pid == other.pid());
  CHECK(holder->service == "other-user");
}

TEST_CASE("a lock file another user cannot open refuses that port, naming its owner, and the next port is taken") {
  if (::geteuid() != 0) {
    PORTPOOL_SKIP("needs root to run a second user (nobody) in a child process");
  }
  TempDir directory;
  auto options = shared_options_in(directory);
  auto ports = ReservedPorts::any(2);
  auto private_lock = directory.lock_file(ports[0]);
  std::ofstream(private_lock).flush();
  fs::permissions(private_lock, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);

  auto code = other_user_takes_second_port(options, ports, [&](const std::vector<Event>& events) {
    const auto& message = events.at(0).message;
    if (message.find("belongs to uid 0") == std::string::npos ||
        message.find("does not let you") == std::string::npos) {
      std::cerr << "unclear refusal: " << message << '\n';
      return 2;
    }
    return 0;
  });
  CHECK(code == 0);
}
