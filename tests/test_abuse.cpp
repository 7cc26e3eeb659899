// Abuse of the lock directory and of the process: hostile files, a directory deleted, made
// read-only or full, descriptors or file size run out. portpool refuses or ignores what it cannot
// trust, says why, never follows a symbolic link, and never holds a port wrongly.

#include <portpool/impl/record.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "descriptor_exhaustion.hpp"
#include "fixtures.hpp"
#include "holder.hpp"
#include "in_child.hpp"
#include "ports.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

namespace fs = std::filesystem;

namespace {

std::string read_whole(const fs::path& path) {
  std::ifstream file(path);
  return {std::istreambuf_iterator<char>(file), {}};
}

/// Whether any process holds an fcntl lock on `path` (asked without taking it).
bool someone_locks(const fs::path& path) {
  portpool::UniqueFd file(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct flock request {};
  request.l_type = F_WRLCK;
  request.l_whence = SEEK_SET;
  return !file || ::fcntl(file.get(), F_GETLK, &request) != 0 || request.l_type != F_UNLCK;
}

/// Whether `text` mentions what went wrong with `error` (strerror's words).
bool mentions(const std::string& text, int error) {
  return text.find(std::error_code(error, std::system_category()).message()) != std::string::npos;
}

/// A small tmpfs mounted on `path` for the life of the object (root only; mounted() says whether).
class SmallFilesystem {
 public:
  SmallFilesystem(fs::path path, const std::string& options) : path_(std::move(path)) {
    fs::create_directory(path_);
    mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", 0, options.c_str()) == 0;
    error_ = mounted_ ? 0 : errno;
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;
  SmallFilesystem(SmallFilesystem&&) = delete;
  SmallFilesystem& operator=(SmallFilesystem&&) = delete;
  ~SmallFilesystem() {
    if (mounted_) {
      ::umount2(path_.c_str(), MNT_DETACH);
    }
  }
  bool mounted() const { return mounted_; }
  /// Why the mount failed (an errno value).
  int error() const { return error_; }

 private:
  fs::path path_;
  bool mounted_ = false;
  int error_ = 0;
};

/// Fills the filesystem of `directory` with one file until it reports that it is full.
void fill(const fs::path& directory) {
  std::ofstream filler(directory / "filler", std::ios::binary);
  std::string block(4096, 'x');
  while (filler.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    filler.flush();
  }
}

void remove_all_but_lock_files(const fs::path& directory) {
  for (const auto& entry : std::vector<fs::directory_entry>(fs::directory_iterator(directory), {})) {
    if (entry.path().extension() != ".lock") {
      fs::remove(entry.path());
    }
  }
}

}  // namespace

TEST_CASE("a lock directory deleted while a port is held: release copes, a new manager starts afresh") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto lease = manager.acquire();
  fs::remove_all(directory.lock_dir());
  lease.release();
  CHECK_FALSE(lease.held());
  CHECK(Registry::holders(directory.lock_dir()).empty());

  PortPoolManager fresh("api", ports.ports(), options_in(directory));
  auto again = fresh.acquire();
  CHECK(again.port() == ports[0]);
  CHECK(Registry::holder_of(ports[0], options_in(directory)).has_value());
}

TEST_CASE("a lock directory swapped for a symbolic link after opening is not followed, and not locked in either") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto attacker = directory.path() / "attacker";
  fs::create_directory(attacker);
  fs::rename(directory.lock_dir(), directory.path() / "moved");
  fs::create_directory_symlink(attacker, directory.lock_dir());
  // Locking in the moved directory, which no other process looks at, would make a second holder.
  CHECK_THROWS_WITH(manager.acquire(), Contains("was moved, replaced or deleted while in use") &&
                                           Contains("symbolic link") && Contains(directory.lock_dir().string()));
  CHECK_THROWS_AS(manager.acquire(), LockDirError);
  CHECK(fs::is_empty(attacker));
}

TEST_CASE(
    "a lock directory made read-only while holding: release copes, existing lock files still work, new ones say why") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  if (::geteuid() == 0) {
    REQUIRE(::chown(directory.path().c_str(), nobody(), nobody()) == 0);
  }
  auto options = options_in(directory);
  auto code = in_child(
      [&] {
        PortPoolManager manager("api", {ports[0]}, options);
        auto lease = manager.acquire();
        fs::permissions(options.lock_dir, fs::perms::owner_read | fs::perms::owner_exec, fs::perm_options::replace);
        lease.release();
        if (!Registry::holders(options.lock_dir).empty()) {
          std::cerr << "a released port is still listed\n";
          return 1;
        }
        auto again = manager.acquire();  // no directory operation: the lock file is there
        if (Registry::holders(options.lock_dir).size() != 1) {
          std::cerr << "the port taken again is not listed\n";
          return 2;
        }
        try {
          PortPoolManager other("api", {ports[1]}, options);
          auto never = other.acquire();
          std::cerr << "created a lock file in a read-only directory\n";
          return 3;
        } catch (const LockDirError& error) {
          if (!mentions(error.what(), EACCES) ||
              std::string(error.what()).find("cannot create the lock file") == std::string::npos) {
            std::cerr << "unclear: " << error.what() << '\n';
            return 4;
          }
        }
        return 0;
      },
      true);
  CHECK(code == 0);
  CHECK_FALSE(someone_locks(directory.lock_file(ports[0])));
}

TEST_CASE("a full lock directory (tmpfs out of space or inodes) gives a clear error and holds nothing") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  SmallFilesystem small(directory.lock_dir(), "size=64k,nr_inodes=16,mode=0700");
  if (!small.mounted()) {
    PORTPOOL_SKIP("cannot mount a tmpfs here (" << std::strerror(small.error())
                                                << "; needs root and CAP_SYS_ADMIN); the RLIMIT_FSIZE test "
                                                   "checks a record that cannot be written");
  }
  PortPoolManager manager("api", ports.ports(), options_in(directory));

  SECTION("no space for the holder record") {
    fill(directory.lock_dir());
    CHECK_THROWS_WITH(manager.acquire(), Contains("cannot write the holder record") && Contains("No space left"));
  }
  SECTION("no inode for the lock file") {
    for (int file = 0;; ++file) {
      portpool::UniqueFd created(
          ::open((directory.lock_dir() / std::to_string(file)).c_str(), O_CREAT | O_CLOEXEC, 0600));
      if (!created) {
        break;
      }
    }
    CHECK_THROWS_WITH(manager.acquire(), Contains("cannot create the lock file") && Contains("No space left"));
  }
  CHECK(Registry::holders(directory.lock_dir()).empty());
  remove_all_but_lock_files(directory.lock_dir());
  CHECK(free_for_another_process(directory, ports[0]));
}

TEST_CASE("in a shared directory, a full filesystem that stops the holder's own record file holds nothing") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  SmallFilesystem small(directory.lock_dir(), "size=64k,nr_inodes=16,mode=1777");
  if (!small.mounted()) {
    PORTPOOL_SKIP("cannot mount a tmpfs here (" << std::strerror(small.error()) << "; needs root and CAP_SYS_ADMIN)");
  }
  auto options = options_in(directory);
  options.shared_lock_dir = true;
  PortPoolManager manager("api", ports.ports(), options);
  fill(directory.lock_dir());
  CHECK_THROWS_WITH(manager.acquire(), Contains("cannot write the holder record into") && Contains(".record.") &&
                                           Contains("No space left"));
  CHECK(Registry::holders(options).empty());
  for (const auto& entry : fs::directory_iterator(directory.lock_dir())) {
    CHECK(entry.path().filename().string().find(".record.") == std::string::npos);
  }
  remove_all_but_lock_files(directory.lock_dir());
  CHECK(PortPoolManager("another", ports.ports(), options).try_acquire().has_value());
}

TEST_CASE("a file size limit (RLIMIT_FSIZE) that stops the record gives a clear error and holds nothing") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  auto code = in_child([&] {
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit no_writes{0, 0};
    ::setrlimit(RLIMIT_FSIZE, &no_writes);
    PortPoolManager manager("api", ports.ports(), options);
    try {
      manager.acquire();
      return 1;
    } catch (const LockDirError& error) {
      return mentions(error.what(), EFBIG) ? 0 : 2;
    }
  });
  CHECK(code == 0);
  for (const auto& file : fs::directory_iterator(directory.lock_dir())) {
    CHECK(file.path().extension() == ".lock");  // no temporary record left behind
  }
  CHECK(Registry::holders(directory.lock_dir()).empty());
  CHECK(free_for_another_process(directory, ports[0]));
}

TEST_CASE("running out of descriptors fails acquisition with a clear error and leaks nothing") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto options = options_in(directory);
  auto code = in_child([&] {
    PortPoolManager manager("api", ports.ports(), options);
    meet_classes_before_running_out(manager);
    auto baseline = open_descriptors();
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = baseline + 64;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    bool acquired_once = false;
    for (int left_free = 0; left_free <= 4; ++left_free) {
      std::vector<int> fillers;
      for (int fd = 0; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) {
        fillers.push_back(fd);
      }
      for (int freed = 0; freed < left_free; ++freed) {
        ::close(fillers.back());
        fillers.pop_back();
      }
      try {
        auto lease = manager.acquire();
        acquired_once = true;
      } catch (const ResourceError& error) {
        if (!mentions(error.what(), EMFILE)) {
          std::cerr << "unclear with " << left_free << " descriptors free: " << error.what() << '\n';
          return 1;
        }
      }
      for (int fd : fillers) {
        ::close(fd);
      }
      if (open_descriptors() != baseline) {
        std::cerr << "descriptors leaked with " << left_free << " free\n";
        return 2;
      }
    }
    return acquired_once ? 0 : 3;
  });
  CHECK(code == 0);
  CHECK(free_for_another_process(directory, ports[0]));
}

TEST_CASE("records forged by another process are not believed, and hostile files at lock file names are skipped") {
  TempDir directory;
  auto ports = ReservedPorts::any(4);
  directory.create_private_lock_dir();
  auto precious = directory.path() / "precious";
  std::ofstream(precious) << "keep me";
  Holder forged;
  forged.port = ports[0];
  forged.service = "forged";
  forged.pid = ::getpid();  // alive, but it holds no lock
  forged.instance = 1;
  std::ofstream(directory.lock_file(ports[0])) << detail::format_record(forged);
  fs::create_symlink(precious, directory.lock_file(ports[1]));
  REQUIRE(::mkfifo(directory.lock_file(ports[2]).c_str(), 0600) == 0);
  { std::ofstream touch(directory.lock_file(ports[3])); }
  fs::resize_file(directory.lock_file(ports[3]), std::uintmax_t{1} << 30U);

  CHECK(Registry::holders(directory.lock_dir()).empty());
  std::vector<Event> events;
  PortPoolManager manager("api", ports.ports(), recording_options(directory, events));
  auto first = manager.acquire();
  auto second = manager.acquire();
  CHECK(first.port() == ports[0]);
  CHECK(second.port() == ports[3]);
  CHECK_THAT(events[2].message, Contains("symbolic link"));
  CHECK_THAT(events[3].message, Contains("not a regular file"));
  auto holders = Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 2);
  for (const auto& holder : holders) {
    CHECK(holder.service == "api");
    CHECK(holder.pid == ::getpid());
  }
  CHECK(read_whole(precious) == "keep me");
}

TEST_CASE("a directory, a socket or an unopenable file at a lock file's name skips that port with the reason") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  directory.create_private_lock_dir();
  fs::create_directory(directory.lock_file(ports[0]));
  portpool::UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  auto socket_path = directory.lock_file(ports[1]).string();
  REQUIRE(socket_path.size() < sizeof address.sun_path);
  std::copy(socket_path.begin(), socket_path.end(), address.sun_path);
  REQUIRE(::bind(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);

  std::vector<Event> events;
  PortPoolManager manager("api", ports.ports(), recording_options(directory, events));
  CHECK(manager.acquire().port() == ports[2]);
  REQUIRE(events.size() >= 3);
  CHECK_THAT(events[0].message, Contains("a directory stands where its lock file") && Contains("remove it"));
  CHECK_THAT(events[1].message, Contains("a socket stands where its lock file") && Contains("remove it"));
}

TEST_CASE("a hard link to a held lock file makes no second holder, in this process or another") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  PortPoolManager manager("api", {ports[0]}, options_in(directory));
  auto lease = manager.acquire();
  REQUIRE(::link(directory.lock_file(ports[0]).c_str(), directory.lock_file(ports[1]).c_str()) == 0);

  SECTION("the second name is refused with the reason, and trying it drops nothing") {
    std::vector<Event> events;
    PortPoolManager second_name("api", {ports[1]}, recording_options(directory, events));
    CHECK_FALSE(second_name.try_acquire().has_value());
    REQUIRE_FALSE(events.empty());
    CHECK_FALSE(free_for_another_process(directory, ports[0]));
    CHECK_FALSE(free_for_another_process(directory, ports[1]));
    CHECK(lease.held());
  }
  SECTION("reading the registry through either name drops nothing") {
    auto holders = Registry::holders(directory.lock_dir());
    CHECK_FALSE(holders.empty());
    CHECK_FALSE(free_for_another_process(directory, ports[0]));
  }
  SECTION("after release, the linked port is refused until the extra name is gone") {
    lease.release();
    std::vector<Event> events;
    PortPoolManager again("api", {ports[0]}, recording_options(directory, events));
    CHECK_FALSE(again.try_acquire().has_value());
    REQUIRE_FALSE(events.empty());
    CHECK_THAT(events[0].message, Contains("has 2 names (hard links)"));
    fs::remove(directory.lock_file(ports[1]));
    CHECK(again.try_acquire().has_value());
  }
}

TEST_CASE("a lock file that belongs to another user is refused with the reason") {
  if (::geteuid() != 0) {
    PORTPOOL_SKIP("needs root to give a file to another user");
  }
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  directory.create_private_lock_dir();
  std::ofstream(directory.lock_file(ports[0])).flush();
  REQUIRE(::chown(directory.lock_file(ports[0]).c_str(), nobody(), nobody()) == 0);
  std::vector<Event> events;
  PortPoolManager manager("api", ports.ports(), recording_options(directory, events));
  CHECK(manager.acquire().port() == ports[1]);
  REQUIRE_FALSE(events.empty());
  CHECK_THAT(events[0].message, Contains("belongs to uid " + std::to_string(nobody())) && Contains("remove it"));
}
