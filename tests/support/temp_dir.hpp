#pragma once

// A private temporary directory per test, removed afterwards, so tests can run in parallel.

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace portpool::test {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "portpool-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&&) = delete;
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ignored);
    std::filesystem::remove_all(path_, ignored);
  }

  const std::filesystem::path& path() const { return path_; }

  /// A lock directory inside this one (created by portpool on first use).
  std::filesystem::path lock_dir() const { return path_ / "locks"; }

  /// The lock file of `port` in lock_dir(), by the name portpool gives it.
  std::filesystem::path lock_file(std::uint16_t port) const {
    return lock_dir() / ("port-" + std::to_string(port) + ".lock");
  }

  /// Creates lock_dir() as portpool would (private to its owner), for a test to put files in first.
  void create_private_lock_dir() const {
    std::filesystem::create_directory(lock_dir());
    std::filesystem::permissions(lock_dir(), std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
  }

 private:
  std::filesystem::path path_;
};

}  // namespace portpool::test
