#pragma once

/// @file
/// Refusal: why one port of a pool was not handed out, in a form a program can act on (the reason,
/// the holder when a portpool holder has it) and in words (the detail).

#include <portpool/holder.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace portpool {

/// Why a port was passed over.
enum class RefusalReason {
  held,               ///< a portpool holder has it (in this process or another); `Refusal::holder` names it
  in_use,             ///< another program listens on it or has it bound (the probe, or the listening bind, failed)
  blocked_port,       ///< browsers and fetch() refuse it (`is_fetch_blocked_port`) and the pool may not use it
  lock_unusable,      ///< its lock file cannot guard it: a stray entry at its name, another user's file, links
  claimed_elsewhere,  ///< another host claims it in the fleet (fleet pools); `Refusal::detail` names the host
};

/// The reason's name: "held", "in_use", "blocked_port", "lock_unusable" or "claimed_elsewhere".
///
/// @code
/// std::cout << portpool::to_string(refusal.reason);  // "in_use"
/// @endcode
inline const char* to_string(RefusalReason reason) noexcept {
  switch (reason) {
    case RefusalReason::in_use:
      return "in_use";
    case RefusalReason::blocked_port:
      return "blocked_port";
    case RefusalReason::lock_unusable:
      return "lock_unusable";
    case RefusalReason::claimed_elsewhere:
      return "claimed_elsewhere";
    case RefusalReason::held:
      break;
  }
  return "held";
}

/// One port that was not handed out, and why: carried by `PoolExhausted::refusals()` (one per pool
/// port, in the order they were tried) and by the `skipped` events.
///
/// Thread safety: a plain value: copies are independent, and a const one may be read from several
/// threads at once.
///
/// @code
/// } catch (const portpool::PoolExhausted& exhausted) {
///   for (const portpool::Refusal& refusal : exhausted.refusals())
///     if (refusal.reason == portpool::RefusalReason::held && refusal.holder)
///       std::cerr << refusal.port << " is held by pid " << refusal.holder->pid << '\n';
/// }
/// @endcode
struct Refusal {
  /// The port passed over.
  std::uint16_t port = 0;
  /// Why, in a form a program can act on.
  RefusalReason reason = RefusalReason::held;
  /// The holder as its record names it, for `held`; empty for other reasons, and for a holder
  /// that had locked the port but not yet written its record.
  std::optional<Holder> holder;
  /// The explanation in words, as the PoolExhausted message and the skipped event give it.
  std::string detail;
};

}  // namespace portpool
