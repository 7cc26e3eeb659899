#pragma once

/// @file
/// Lock policies: how a manager makes a port exclusive across processes. The LockPolicy concept,
/// what a policy hands to the manager (LockAttempt, PortLock), and the default policy.
///
/// The LockPolicy concept (the first parameter of BasicPortPoolManager): a policy `P` provides
///
/// - `LockAttempt P::try_lock(const Holder& holder, bool explain) const`: locks `holder.port`
///   for `holder` once, without waiting, exclusively across processes; the lock lasts while the
///   PortLock (then the PortLease made from it) lives. When the port cannot be locked, `reason`
///   says why (always), and if `explain` is set, `refusal` says it in words and `holder` names
///   the holder for `RefusalReason::held` when its record is known. May throw the library's
///   errors; a throw holds nothing. Called from several threads at once when the manager is.
/// - `const std::filesystem::path& P::lock_dir() const noexcept`: where the lock files are.
/// - Move construction (the manager owns its policy).
///
/// `is_lock_policy_v<P>` tells whether `P` provides these; BasicPortPoolManager checks it with a
/// static_assert that names what is missing.
///
/// Only FileLockPolicy makes a PortLock (the lock file stays the authority on a host), so a policy
/// written outside the library is a decorator over FileLockPolicy: it does its own check or
/// claim, refuses with its own reason, or forwards to a FileLockPolicy and ties what it holds
/// besides to the lock with `PortLock::call_after_release`. Models: FileLockPolicy (below), and
/// `portpool::fleet::FleetLockPolicy` (<portpool/fleet/fleet_lock_policy.hpp>, the fleet
/// component), which claims the port in etcd (refusing with `RefusalReason::claimed_elsewhere`,
/// the claiming host named in `refusal`), then locks it with a FileLockPolicy and gives the
/// claim back after the lock is dropped.
///
/// @code
/// // A policy that keeps the ports a maintenance window has closed off, and locks the others.
/// class MaintenancePolicy {
///  public:
///   explicit MaintenancePolicy(const portpool::Options& options) : files_(options) {}
///   portpool::LockAttempt try_lock(const portpool::Holder& holder, bool explain) const {
///     if (in_maintenance(holder.port)) {
///       return {std::nullopt, explain ? "closed for maintenance" : "", portpool::RefusalReason::lock_unusable, {}};
///     }
///     auto attempt = files_.try_lock(holder, explain);
///     if (attempt.lock) attempt.lock->call_after_release([port = holder.port] { log_release(port); });
///     return attempt;
///   }
///   const std::filesystem::path& lock_dir() const noexcept { return files_.lock_dir(); }
///
///  private:
///   portpool::FileLockPolicy files_;
/// };
/// portpool::BasicPortPoolManager<MaintenancePolicy, portpool::BindProbe> manager(
///     "api", {9000, 9001}, options, MaintenancePolicy(options));
/// @endcode

#include <portpool/detail/config.hpp>
#include <portpool/detail/detection.hpp>
#include <portpool/detail/names.hpp>
#include <portpool/fencing_token.hpp>
#include <portpool/holder.hpp>
#include <portpool/options.hpp>
#include <portpool/refusal.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

namespace portpool {

namespace detail {
class CurrentLockDirectory;
class HeldLock;
class LockFileCache;
}  // namespace detail

/// A port locked by a lock policy and not yet handed out: the manager records the holder into it,
/// probes the port, then turns it into a PortLease, or drops it, which unlocks the port.
/// Move-only. Only FileLockPolicy makes one (the lock file stays the authority on a host); other
/// policies wrap FileLockPolicy and tie what they hold besides to the lock (call_after_release).
///
/// Thread safety: one lock is used by one thread at a time.
class PortLock {
 public:
  /// Takes over `other`'s lock; `other` holds nothing after.
  PortLock(PortLock&& other) noexcept;
  /// Drops this lock's port (unlocks it), then takes over `other`'s lock.
  PortLock& operator=(PortLock&& other) noexcept;
  /// Unlocks the port, unless the lock was moved or made into a PortLease.
  ~PortLock();

  /// The holder this lock was taken for (its port, service, instance...).
  const Holder& holder() const noexcept;

  /// Writes the holder record into the lock file, which makes the hold visible to Registry.
  /// @throws LockDirError when the file cannot take it (full or failing filesystem).
  void publish();

  /// Gives the hold a fencing token (a fleet lock policy does, with the claim's etcd revision):
  /// the lease made of this lock reports it (`PortLease::fencing_token()`).
  void set_fencing_token(FencingToken token);

  /// Runs `action` once, right after the port is unlocked, in the process that locked it (a fleet
  /// claim is given back there). `action` must not throw.
  void call_after_release(std::function<void()> action);

 private:
  friend class FileLockPolicy;
  friend class PortLease;

  explicit PortLock(std::unique_ptr<detail::HeldLock> lock) noexcept;

  std::unique_ptr<detail::HeldLock> lock_;
};

/// What LockPolicy::try_lock answers: the lock, or why the port could not be locked.
struct LockAttempt {
  /// The lock when the port was locked, else empty.
  std::optional<PortLock> lock;
  std::string refusal;  ///< why, in words (who holds the port); empty unless the caller asked for an explanation
  RefusalReason reason = RefusalReason::held;  ///< why, when `lock` is empty
  std::optional<Holder> holder;                ///< for `held`: the holder's record, when explained and known
};

/// The default lock policy: one lock file per port (`port-<N>.lock`) in the lock directory, held
/// with a Linux open-file-description lock (`F_OFD_SETLK`), with the holder record written into
/// it. The directory is created (mode 0700) and checked when the policy is constructed.
///
/// The directory is kept open, and a lock taken in it counts only when the lock file's name, looked
/// up by the directory's path, names the locked file, as another process would find it. When the
/// path no longer leads to the directory opened (the directory, or one above it, was renamed,
/// replaced by another directory or deleted), the lock is dropped, the path is opened again
/// (created when missing, checked as at construction) and the port is locked there, where other
/// processes look: a lock in the moved directory would be seen by none of them. Leases taken
/// before keep their files in the moved directory, and their shields report
/// `LostReason::lock_directory_moved`. A port refused in the moved directory (held there) is refused;
/// the first lock taken after the move finds the move.
///
/// @throws LockDirError from the constructor when the lock directory is unsafe or unusable, and
/// from try_lock() when the directory was moved and what its path names now is unsafe or
/// unusable.
///
/// A lock released by a lease of this policy leaves its file open and unlocked (at most 16 files per
/// policy and its copies, never used again after a fork()); the next try_lock() of that port locks
/// it again once the name, looked up by the directory's path, is seen to still name it.
///
/// Thread safety: try_lock() and lock_dir() may be called from several threads at once (the
/// managers do); two threads of one process never lock the same port, as two processes never do.
class FileLockPolicy {
 public:
  /// Opens (creating it when missing) the lock directory `options.lock_dir` names (the default one
  /// when empty), honouring `options.shared_lock_dir`.
  /// @throws LockDirError when the directory is unsafe or unusable.
  explicit FileLockPolicy(const Options& options);

  /// Tries once, without waiting, to lock `holder.port`, in the directory the lock directory's path
  /// names now. When `explain` is set, a refusal says why (who holds the port).
  /// @throws LockDirError as described above.
  LockAttempt try_lock(const Holder& holder, bool explain) const;

  /// Where the lock files are: `Options::lock_dir`, or `default_lock_dir()` (read when the policy
  /// was built) when that was empty.
  const std::filesystem::path& lock_dir() const noexcept;

  /// The name of `port`'s lock file in the lock directory.
  static std::string lock_name(std::uint16_t port) { return detail::port_lock_name(port); }

 private:
  std::shared_ptr<detail::CurrentLockDirectory> directory_;  ///< shared by copies of the policy
  /// Lock files released by this policy's holds, kept open (unlocked) for the next hold of their
  /// port; shared by copies of the policy. Leases only point to it weakly: a lease that outlives
  /// the policy closes its file on release.
  std::shared_ptr<detail::LockFileCache> kept_files_;
};

namespace detail {

template <class Policy>
using try_lock_result = decltype(std::declval<const Policy&>().try_lock(std::declval<const Holder&>(), true));

template <class Policy>
using lock_dir_result = decltype(std::declval<const Policy&>().lock_dir());

}  // namespace detail

/// Whether `Policy` models the LockPolicy concept described at the top of this header.
///
/// @code
/// static_assert(portpool::is_lock_policy_v<MaintenancePolicy>);
/// @endcode
template <class Policy>
inline constexpr bool is_lock_policy_v = std::conjunction_v<
    std::is_same<LockAttempt, detail::detected_t<detail::try_lock_result, Policy>>,
    std::is_convertible<detail::detected_t<detail::lock_dir_result, Policy>, const std::filesystem::path&>,
    std::is_move_constructible<Policy>>;

}  // namespace portpool

#if !defined(PORTPOOL_SEPARATE_COMPILATION)
#include <portpool/impl/lock_policy.ipp>
#endif
