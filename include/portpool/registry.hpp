#pragma once

/// @file
/// Registry: who holds which port, read from the lock directory.

#include <portpool/detail/config.hpp>
#include <portpool/holder.hpp>
#include <portpool/options.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace portpool {

namespace detail {
struct LockDirectory;
}  // namespace detail

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
  static std::vector<Holder> holders(const std::filesystem::path& lock_dir = {});

  /// Every live holder in `options.lock_dir`, honouring `options.shared_lock_dir`.
  static std::vector<Holder> holders(const Options& options);

  /// Every live holder of an instance number (see InstanceManager) in `options.lock_dir`, sorted
  /// by instance: who holds it (`pid`, `instance_id`) and since when. Their `port` is 0 and their
  /// `service` empty. As for ports, a record is believed only while its lock is held.
  /// @throws LockDirError when the directory is unsafe (see Options::shared_lock_dir).
  static std::vector<Holder> instance_holders(const Options& options = {});

  /// The live holder of `port`, if any.
  static std::optional<Holder> holder_of(std::uint16_t port, const Options& options = {});

 private:
  static std::optional<Holder> live_holder(const detail::LockDirectory& directory, std::uint16_t port);

  // The numbers in the names of the lock files that `number_of` recognizes.
  template <class Number>
  static std::vector<Number> lock_file_numbers(const detail::LockDirectory& directory,
                                               std::optional<Number> (*number_of)(std::string_view));
};

}  // namespace portpool

#if !defined(PORTPOOL_SEPARATE_COMPILATION)
#include <portpool/impl/registry.ipp>
#endif
