// default_lock_dir() and resolve_lock_dir(): where the lock files are when no directory is
// configured.

#include <portpool/lock_dir.hpp>
#include <portpool/port_pool_manager.hpp>

#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

using namespace portpool;
using namespace portpool::test;

namespace fs = std::filesystem;

namespace {

unsigned mode_of(const fs::path& path) {
  struct stat status {};
  ::lstat(path.c_str(), &status);
  return status.st_mode & 07777U;
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
  CHECK(fs::exists(directory.lock_file(ports[0])));
  CHECK(mode_of(directory.lock_dir()) == 0700U);
}
