#pragma once

/// @file
/// Registry: who holds which port, read from the lock directory.

#include <portpool/detail/lock_directory.hpp>
#include <portpool/detail/lock_file.hpp>
#include <portpool/detail/record.hpp>
#include <portpool/detail/unique_fd.hpp>
#include <portpool/holder.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/options.hpp>

#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portpool {

/// A read-only view of the lock directory: the local service registry.
///
/// Only live holders are reported: a record whose lock is no longer held (its holder died) is
/// ignored. Reading never disturbs a lock, including the reading process's own.
///
/// @code
/// for (const auto& holder : portpool::Registry::holders())
///   std::cout << holder.port << ' ' << holder.service << ' ' << holder.pid << '\n';
/// @endcode
class Registry {
 public:
  /// Every live holder in `lock_dir` (empty: the default directory), sorted by port. A directory
  /// that does not exist has no holders.
  /// @throws LockDirError when the directory is unsafe (see Options::shared_lock_dir).
  static std::vector<Holder> holders(const std::filesystem::path& lock_dir = {}) {
    Options options;
    options.lock_dir = lock_dir;
    return holders(options);
  }

  /// Every live holder in `options.lock_dir`, honouring `options.shared_lock_dir`.
  static std::vector<Holder> holders(const Options& options) {
    std::vector<Holder> found;
    auto directory = detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, false);
    if (!directory) {
      return found;
    }
    for (auto port : recorded_ports(*directory)) {
      if (auto holder = live_holder(*directory, port)) {
        found.push_back(std::move(*holder));
      }
    }
    std::sort(found.begin(), found.end(), [](const Holder& a, const Holder& b) { return a.port < b.port; });
    return found;
  }

  /// The live holder of `port`, if any.
  static std::optional<Holder> holder_of(std::uint16_t port, const Options& options = {}) {
    auto directory = detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, false);
    return directory ? live_holder(*directory, port) : std::nullopt;
  }

 private:
  static std::optional<Holder> live_holder(const detail::LockDirectory& directory, std::uint16_t port) {
    auto record = detail::read_record(directory, FileLockPolicy::record_name(port));
    if (!record || record->port != port) {
      return std::nullopt;
    }
    auto pid = detail::lock_holder(directory, FileLockPolicy::lock_name(port));
    if (!pid || *pid != record->pid) {
      return std::nullopt;  // stale: its holder is gone, or a new holder has not written yet
    }
    return record;
  }

  static std::vector<std::uint16_t> recorded_ports(const detail::LockDirectory& directory) {
    std::vector<std::uint16_t> ports;
    detail::UniqueFd listing(::openat(directory.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DIR* stream = listing ? ::fdopendir(listing.get()) : nullptr;
    if (stream == nullptr) {
      return ports;
    }
    static_cast<void>(listing.release());              // now owned by the stream
    while (const dirent* entry = ::readdir(stream)) {  // NOLINT(concurrency-mt-unsafe): private stream
      if (auto port = port_of_record(entry->d_name)) {
        ports.push_back(*port);
      }
    }
    ::closedir(stream);
    return ports;
  }

  static std::optional<std::uint16_t> port_of_record(std::string_view name) {
    constexpr std::string_view prefix = "port-";
    constexpr std::string_view suffix = ".record";
    if (name.size() <= prefix.size() + suffix.size() || name.substr(0, prefix.size()) != prefix ||
        name.substr(name.size() - suffix.size()) != suffix) {
      return std::nullopt;
    }
    std::uint16_t port = 0;
    auto digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (!detail::parse_number(digits, port) || port == 0 || std::to_string(port) != digits) {
      return std::nullopt;
    }
    return port;
  }
};

}  // namespace portpool
