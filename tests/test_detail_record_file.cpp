// Records in a shared lock directory (impl/record_file.hpp, detail/lock_range.hpp): the holder's
// lock names its user, its own record file is what readers believe, and what a member of the
// directory can do to another's hold (make it read as unverified) and cannot (make its own record
// read as the other's). The two-user cases run as root and drop to nobody in forked children.

#include <portpool/detail/lock_range.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/registry.hpp>

#include "fixtures.hpp"
#include "holding_child.hpp"
#include "in_child.hpp"
#include "ports.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

using namespace portpool;
using namespace portpool::test;
using Catch::Matchers::Contains;

namespace fs = std::filesystem;

namespace {

fs::path record_file(const TempDir& directory, std::uint16_t port, uid_t uid) {
  return directory.lock_dir() / ("port-" + std::to_string(port) + ".record." + std::to_string(uid));
}

Holder made_up_holder(std::uint16_t port, const std::string& service) {
  Holder holder;
  holder.port = port;
  holder.service = service;
  holder.pid = ::getpid();
  holder.instance = 1;
  holder.instance_id = "made-up";
  holder.since = std::chrono::system_clock::now();
  return holder;
}

/// Writes `holder`'s record, with a valid checksum, into the existing file `path`; false when it
/// cannot be opened for writing.
bool write_record_into(const fs::path& path, const Holder& holder) {
  UniqueFd file(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  return file && detail::write_record(file.get(), holder) == 0;
}

/// Opens (creating it with `mode`, whatever the umask) the file `path` and write-locks it as a
/// holder running as `claimed_uid` would; an empty descriptor when that fails.
UniqueFd lock_as(const fs::path& path, uid_t claimed_uid, mode_t mode = 0666) {
  UniqueFd file(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (file) {
    ::fchmod(file.get(), mode);
  } else {
    file.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  }
  auto request = detail::holder_lock(claimed_uid);
  if (!file || ::fcntl(file.get(), F_OFD_SETLK, &request) != 0) {
    return {};
  }
  return file;
}

/// Whether some open file holds a lock on `path`.
bool locked(const fs::path& path) {
  UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return file && detail::is_locked(file.get());
}

std::vector<std::string> entries(const fs::path& directory) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(directory)) {
    names.push_back(entry.path().filename().string());
  }
  return names;
}

}  // namespace

TEST_CASE("a holder's lock names its user and excludes whole-file locks as before") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("api", ports.ports(), options_in(directory));
  auto lease = manager.acquire();

  UniqueFd reader(::open(directory.lock_file(ports[0]).c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(reader);
  CHECK(detail::claimed_holder_uid(reader.get()) == ::geteuid());
  auto whole_write = detail::whole_file_lock(F_WRLCK);
  auto whole_read = detail::whole_file_lock(F_RDLCK);
  CHECK(::fcntl(reader.get(), F_OFD_SETLK, &whole_write) != 0);
  CHECK(::fcntl(reader.get(), F_OFD_SETLK, &whole_read) != 0);

  SECTION("a private directory has no record files") {
    CHECK(entries(directory.lock_dir()) == std::vector<std::string>{directory.lock_file(ports[0]).filename()});
  }
  SECTION("a lock of the whole file names nobody") {
    lease.release();
    REQUIRE(::fcntl(reader.get(), F_OFD_SETLK, &whole_write) == 0);
    UniqueFd other(::open(directory.lock_file(ports[0]).c_str(), O_RDONLY | O_CLOEXEC));
    CHECK(detail::is_locked(other.get()));
    CHECK_FALSE(detail::claimed_holder_uid(other.get()).has_value());
  }
}

TEST_CASE("in a shared directory the holder writes a record file of its own, and readers believe it") {
  TempDir directory;
  auto options = shared_options_in(directory);
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("mine", ports.ports(), options);
  const auto mask = ::umask(077);  // the record file is readable by all whatever the umask
  auto lease = manager.acquire();
  ::umask(mask);
  auto own = record_file(directory, ports[0], ::geteuid());

  struct stat status {};
  REQUIRE(::stat(own.c_str(), &status) == 0);
  CHECK((status.st_mode & 07777) == 0644);
  CHECK(status.st_uid == ::geteuid());
  CHECK(locked(own));
  auto holder = Registry::holder_of(ports[0], options);
  REQUIRE(holder.has_value());
  CHECK(holder->service == "mine");
  CHECK(holder->verified);

  // The lock file's record is anyone's to rewrite here: readers no longer take it.
  lease.set_readiness(Readiness::ready);
  REQUIRE(write_record_into(directory.lock_file(ports[0]), made_up_holder(ports[0], "rewritten")));
  auto holders = Registry::holders(options);
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].service == "mine");
  CHECK(holders[0].readiness == Readiness::ready);
  CHECK(holders[0].verified);

  lease.release();
  CHECK_FALSE(fs::exists(own));
  CHECK_FALSE(Registry::holder_of(ports[0], options).has_value());
}

TEST_CASE("the record file of a holder that died is ignored, then taken over by the next holder") {
  TempDir directory;
  auto options = shared_options_in(directory);
  auto ports = ReservedPorts::any(1);
  auto code = in_child([&] {
    PortPoolManager manager("died", ports.ports(), options);
    auto lease = manager.acquire();
    ::_exit(0);  // no release: the kernel drops the locks, the record file stays
    return 1;
  });
  REQUIRE(code == 0);
  auto own = record_file(directory, ports[0], ::geteuid());
  REQUIRE(fs::exists(own));
  CHECK_FALSE(locked(own));
  CHECK_FALSE(Registry::holder_of(ports[0], options).has_value());

  PortPoolManager manager("next", ports.ports(), options);
  auto lease = manager.acquire();
  auto holder = Registry::holder_of(ports[0], options);
  REQUIRE(holder.has_value());
  CHECK(holder->service == "next");
  CHECK(holder->pid == ::getpid());
  CHECK(holder->verified);
}

TEST_CASE("two users: a member cannot make a record of its own read as another user's hold") {
  if (::geteuid() != 0) {
    PORTPOOL_SKIP("needs root to run a second user (nobody) in a child process");
  }
  TempDir directory;
  auto options = shared_options_in(directory);
  auto ports = ReservedPorts::any(1);
  PortPoolManager manager("root-service", ports.ports(), options);
  auto lease = manager.acquire();
  auto roots = record_file(directory, ports[0], 0);

  auto code = in_child(
      [&] {
        if (write_record_into(roots, made_up_holder(ports[0], "forged")) || ::unlink(roots.c_str()) == 0) {
          std::cerr << "nobody could write or remove root's record file\n";
          return 2;
        }
        auto forged = made_up_holder(ports[0], "forged");
        if (!write_record_into(directory.lock_file(ports[0]), forged)) {
          std::cerr << "nobody could not write the shared lock file: the test proves nothing\n";
          return 3;
        }
        auto own = lock_as(record_file(directory, ports[0], nobody()), nobody(), 0644);
        if (!own || detail::write_record(own.get(), forged) != 0) {
          std::cerr << "nobody could not write a record file of its own\n";
          return 4;
        }
        auto seen = Registry::holder_of(ports[0], options);
        if (!seen || seen->service != "root-service" || !seen->verified) {
          std::cerr << "nobody's reader saw " << (seen ? seen->service : "no holder") << '\n';
          return 5;
        }
        return 0;
      },
      true);
  CHECK(code == 0);
  auto holder = Registry::holder_of(ports[0], options);
  REQUIRE(holder.has_value());
  CHECK(holder->service == "root-service");
  CHECK(holder->verified);
}

TEST_CASE("two users: a hold whose lock names another user, or whose record file was planted, reads as unverified") {
  if (::geteuid() != 0) {
    PORTPOOL_SKIP("needs root to run a second user (nobody) in a child process");
  }
  TempDir directory;
  auto options = shared_options_in(directory);
  auto ports = ReservedPorts::any(2);
  const auto first = ports[0];
  const auto second = ports[1];

  // root held the first port once and died: its record file is there, unlocked.
  REQUIRE(in_child([&] {
            PortPoolManager manager("root-service", {first}, options);
            auto lease = manager.acquire();
            ::_exit(0);
            return 1;
          }) == 0);
  HoldingChild claims_root([&](HoldingChild::Hold& hold) {
    if (::setgid(nobody()) != 0 || ::setuid(nobody()) != 0) {
      return;
    }
    auto lock = lock_as(directory.lock_file(first), 0);
    hold.hold(lock && write_record_into(directory.lock_file(first), made_up_holder(first, "claims-root")) ? "1" : "0");
  });
  REQUIRE(claims_root.report() == "1");
  auto holder = Registry::holder_of(first, options);
  REQUIRE(holder.has_value());
  CHECK(holder->service == "claims-root");
  CHECK_FALSE(holder->verified);
  std::vector<Event> events;
  PortPoolManager refused("root-service", {first}, with_recording(options, events));
  CHECK_FALSE(refused.try_acquire().has_value());
  REQUIRE_FALSE(events.empty());
  CHECK_THAT(events[0].message, Contains("could have written"));

  HoldingChild plants([&](HoldingChild::Hold& hold) {
    if (::setgid(nobody()) != 0 || ::setuid(nobody()) != 0) {
      return;
    }
    auto planted = lock_as(record_file(directory, second, 0), nobody(), 0644);
    hold.hold(planted && detail::write_record(planted.get(), made_up_holder(second, "planted")) == 0 ? "1" : "0");
  });
  REQUIRE(plants.report() == "1");
  PortPoolManager manager("root-service", {second}, options);
  auto lease = manager.acquire();  // the hold works; only its record cannot be vouched for
  holder = Registry::holder_of(second, options);
  REQUIRE(holder.has_value());
  CHECK(holder->service == "root-service");
  CHECK_FALSE(holder->verified);
}
