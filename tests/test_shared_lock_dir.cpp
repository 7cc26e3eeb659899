// A lock directory shared by two users (Options::shared_lock_dir), with two real uids: the test
// runs as root in CI and drops to `nobody` in forked children, since root ignores permission bits.

#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "in_child.hpp"
#include "ports.hpp"
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
namespace fs = std::filesystem;

namespace {

/// A world-writable, sticky lock directory inside `directory`, reachable by every user.
Options shared_options(const TempDir& directory) {
  fs::permissions(directory.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                        fs::perms::others_read | fs::perms::others_exec);
  fs::create_directory(directory.lock_dir());
  REQUIRE(::chmod(directory.lock_dir().c_str(), 01777) == 0);
  auto options = options_in(directory);
  options.shared_lock_dir = true;
  return options;
}

bool is_root() {
  if (::geteuid() != 0) {
    WARN("skipped: needs root to run a second user (nobody) in a child process");
    return false;
  }
  return true;
}

/// A child running as nobody that holds `port` until told to stop.
class HolderAsNobody {
 public:
  HolderAsNobody(const Options& options, std::uint16_t port) {
    REQUIRE(::pipe(ready_) == 0);
    REQUIRE(::pipe(stop_) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(ready_[0]);
      ::close(stop_[1]);
      if (::setgid(nobody()) != 0 || ::setuid(nobody()) != 0) {
        ::_exit(99);
      }
      try {
        PortPoolManager manager("other-user", {port}, options);
        auto lease = manager.acquire();
        char ok = lease.held() ? '1' : '0';
        static_cast<void>(::write(ready_[1], &ok, 1));
        char ignored = 0;
        static_cast<void>(::read(stop_[0], &ignored, 1));
        ::_exit(0);
      } catch (const std::exception& error) {
        std::cerr << "the other user could not acquire: " << error.what() << '\n';
        ::_exit(1);
      }
    }
    ::close(ready_[1]);
    ::close(stop_[0]);
  }
  HolderAsNobody(const HolderAsNobody&) = delete;
  HolderAsNobody& operator=(const HolderAsNobody&) = delete;
  HolderAsNobody(HolderAsNobody&&) = delete;
  HolderAsNobody& operator=(HolderAsNobody&&) = delete;
  ~HolderAsNobody() {
    ::close(stop_[1]);
    ::close(ready_[0]);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }

  bool holds() {
    char ok = 0;
    return ::read(ready_[0], &ok, 1) == 1 && ok == '1';
  }
  pid_t pid() const { return pid_; }

 private:
  int ready_[2]{-1, -1};
  int stop_[2]{-1, -1};
  pid_t pid_ = -1;
};

}  // namespace

TEST_CASE("two users on a shared lock directory exclude each other and see each other's holders") {
  if (!is_root()) {
    return;
  }
  TempDir directory;
  auto options = shared_options(directory);
  auto ports = ReservedPorts::any(2);
  PortPoolManager mine("root-service", {ports[0]}, options);
  auto lease = mine.acquire();

  auto code = in_child(
      [&] {
        std::vector<Event> events;
        auto recording = options;
        recording.on_event = [&events](const Event& event) { events.push_back(event); };
        PortPoolManager manager("other-user", ports.ports(), recording);
        auto taken = manager.acquire();
        if (taken.port() != ports[1]) {
          std::cerr << "the other user got " << taken.port() << '\n';
          return 1;
        }
        if (events.empty() ||
            events[0].message.find("held by pid " + std::to_string(::getppid())) == std::string::npos) {
          std::cerr << "the first port was not refused as root's: " << (events.empty() ? "" : events[0].message)
                    << '\n';
          return 2;
        }
        if (Registry::holders(options).size() != 2) {
          std::cerr << "the other user does not see both holders\n";
          return 3;
        }
        return 0;
      },
      true);
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
  if (!is_root()) {
    return;
  }
  TempDir directory;
  auto options = shared_options(directory);
  auto ports = ReservedPorts::any(2);
  auto private_lock = directory.lock_dir() / ("port-" + std::to_string(ports[0]) + ".lock");
  std::ofstream(private_lock).flush();
  fs::permissions(private_lock, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);

  auto code = in_child(
      [&] {
        std::vector<Event> events;
        auto recording = options;
        recording.on_event = [&events](const Event& event) { events.push_back(event); };
        PortPoolManager manager("other-user", ports.ports(), recording);
        auto taken = manager.acquire();
        if (taken.port() != ports[1]) {
          std::cerr << "got " << taken.port() << '\n';
          return 1;
        }
        const auto& message = events.at(0).message;
        if (message.find("belongs to uid 0") == std::string::npos ||
            message.find("does not let you") == std::string::npos) {
          std::cerr << "unclear refusal: " << message << '\n';
          return 2;
        }
        return 0;
      },
      true);
  CHECK(code == 0);
}
