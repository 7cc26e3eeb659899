#pragma once

/// @file
/// Registry: who holds which port, read from the lock directory.

#include <portpool/detail/names.hpp>
#include <portpool/detail/parse_number.hpp>
#include <portpool/holder.hpp>
#include <portpool/impl/lock_directory.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/options.hpp>
#include <portpool/unique_fd.hpp>

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
/// Thread safety: every function may be called from any thread at any time; each reads the
/// directory afresh and shares nothing.
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
    for (auto port : lock_file_numbers(*directory, detail::port_of_lock_name)) {
      if (auto holder = live_holder(*directory, port)) {
        found.push_back(std::move(*holder));
      }
    }
    std::sort(found.begin(), found.end(), [](const Holder& a, const Holder& b) { return a.port < b.port; });
    return found;
  }

  /// Every live holder of an instance number (see InstanceManager) in `options.lock_dir`, sorted
  /// by instance: who holds it (`pid`, `instance_id`) and since when. Their `port` is 0 and their
  /// `service` empty. As for ports, a record is believed only while its lock is held.
  /// @throws LockDirError when the directory is unsafe (see Options::shared_lock_dir).
  static std::vector<Holder> instance_holders(const Options& options = {}) {
    std::vector<Holder> found;
    auto directory = detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, false);
    if (!directory) {
      return found;
    }
    for (auto number : lock_file_numbers(*directory, detail::instance_of_lock_name)) {
      auto holder = detail::recorded_holder(*directory, detail::instance_lock_name(number));
      if (holder && holder->instance == number) {  // else free, not recorded yet, or a forged record
        found.push_back(std::move(*holder));
      }
    }
    std::sort(found.begin(), found.end(), [](const Holder& a, const Holder& b) { return a.instance < b.instance; });
    return found;
  }

  /// The live holder of `port`, if any.
  static std::optional<Holder> holder_of(std::uint16_t port, const Options& options = {}) {
    auto directory = detail::open_lock_dir(options.lock_dir, options.shared_lock_dir, false);
    return directory ? live_holder(*directory, port) : std::nullopt;
  }

 private:
  static std::optional<Holder> live_holder(const detail::LockDirectory& directory, std::uint16_t port) {
    auto holder = detail::recorded_holder(directory, detail::port_lock_name(port));
    if (!holder || holder->port != port) {
      return std::nullopt;  // free, or its holder cannot be named (not recorded yet, or a forged record)
    }
    return holder;
  }

  // The numbers in the names of the lock files that `number_of` recognizes.
  template <class Number>
  static std::vector<Number> lock_file_numbers(const detail::LockDirectory& directory,
                                               std::optional<Number> (*number_of)(std::string_view)) {
    std::vector<Number> numbers;
    UniqueFd listing(::openat(directory.fd.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DIR* stream = listing ? ::fdopendir(listing.get()) : nullptr;
    if (stream == nullptr) {
      return numbers;
    }
    static_cast<void>(listing.release());  // now owned by the stream
    while (const dirent* entry = ::readdir(stream)) {
      if (auto number = number_of(entry->d_name)) {
        numbers.push_back(*number);
      }
    }
    ::closedir(stream);
    return numbers;
  }
};

}  // namespace portpool
