#pragma once

// Running out of descriptors or memory is exit 71 whichever call ran out: the message names the
// limit, so that a script can tell it from an exhausted pool (75) and the user knows what to raise.

#include <string>
#include <system_error>

namespace portpool::cli {

/// The system's description of `error` (an errno value).
inline std::string errno_text(int error) { return std::system_category().message(error); }

/// EMFILE, ENFILE, ENOMEM or ENOBUFS.
bool is_resource_error(int error) noexcept;

/// What ran out and the limit, e.g. "Too many open files (this process may open 16 descriptors:
/// raise 'ulimit -n', or close some)".
std::string resource_error_text(int error);

/// Descriptors `portpool run` may need at once: its event loop, signals, locks, records, probes,
/// the keeper's pipes, the shield's inotify and socket-table reads.
inline constexpr long descriptors_needed = 16;

/// Checks, before anything is acquired, that this process may still open `needed` descriptors,
/// so that a low `ulimit -n` is one clear error rather than whichever call runs out first.
/// @throws ResourceError naming the limit when it may not.
void require_free_descriptors(long needed);

}  // namespace portpool::cli
