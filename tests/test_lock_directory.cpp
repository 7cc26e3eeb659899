#include <portpool/lock_dir.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

namespace fs = std::filesystem;

namespace {

unsigned mode_of(const fs::path& path) {
  struct stat status {};
  ::lstat(path.c_str(), &status);
  return status.st_mode & 07777U;
}

uid_t nobody() {
  const passwd* entry = ::getpwnam("nobody");
  return entry == nullptr ? 65534 : entry->pw_uid;
}

/// Runs `body` in a child process as the user nobody (when root) and returns its exit code.
template <class Body>
int as_nobody(Body body) {
  pid_t child = ::fork();
  if (child == 0) {
    if (::geteuid() == 0 && (::setgid(nobody()) != 0 || ::setuid(nobody()) != 0)) {
      ::_exit(99);
    }
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("the default lock directory: PORTPOOL_LOCK_DIR, else XDG_RUNTIME_DIR/portpool, else /tmp/portpool-uid") {
  ::setenv("PORTPOOL_LOCK_DIR", "/somewhere/locks", 1);
  ::setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
  CHECK(default_lock_dir() == fs::path("/somewhere/locks"));
  ::unsetenv("PORTPOOL_LOCK_DIR");
  CHECK(default_lock_dir() == fs::path("/run/user/4242/portpool"));
  ::unsetenv("XDG_RUNTIME_DIR");
  CHECK(default_lock_dir() == fs::path("/tmp/portpool-" + std::to_string(::geteuid())));
  CHECK(resolve_lock_dir("/explicit") == fs::path("/explicit"));
}

TEST_CASE("PORTPOOL_LOCK_DIR is honoured when Options::lock_dir is empty, and the directory is created 0700") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  ::setenv("PORTPOOL_LOCK_DIR", directory.lock_dir().c_str(), 1);
  PortPoolManager manager("api", ports.ports());
  CHECK(manager.lock_dir() == directory.lock_dir());
  auto lease = manager.acquire();
  CHECK(fs::exists(directory.lock_dir() / ("port-" + std::to_string(ports[0]) + ".lock")));
  CHECK(mode_of(directory.lock_dir()) == 0700U);
}

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
    WARN("skipped: needs root to give a directory to another user");
    return;
  }
  TempDir directory;
  fs::create_directory(directory.lock_dir());
  fs::permissions(directory.lock_dir(), fs::perms::owner_all, fs::perm_options::replace);
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
  auto code = as_nobody([&] {
    try {
      PortPoolManager manager("api", ports.ports(), options);
      manager.acquire();
      return 1;
    } catch (const LockDirError& error) {
      std::string text = error.what();
      return text.find("Permission denied") != std::string::npos && text.find("writable") != std::string::npos ? 0 : 2;
    }
  });
  CHECK(code == 0);
  CHECK(fs::is_empty(directory.lock_dir()));
}

TEST_CASE("a lock file that is a symbolic link or a FIFO is never followed nor used") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  fs::create_directory(directory.lock_dir());
  fs::permissions(directory.lock_dir(), fs::perms::owner_all, fs::perm_options::replace);
  auto target = directory.path() / "precious";
  std::ofstream(target) << "keep me";
  fs::create_symlink(target, directory.lock_dir() / ("port-" + std::to_string(ports[0]) + ".lock"));
  auto fifo = directory.lock_dir() / ("port-" + std::to_string(ports[1]) + ".lock");
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
