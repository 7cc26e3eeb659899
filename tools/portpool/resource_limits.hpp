#pragma once

// Running out of descriptors or memory is exit 71 whichever call ran out: the message names the
// limit, so that a script can tell it from an exhausted pool (75) and the user knows what to raise.

#include <string>

namespace portpool::cli {

/// EMFILE, ENFILE, ENOMEM or ENOBUFS.
bool is_resource_error(int error) noexcept;

/// What ran out and the limit, e.g. "Too many open files (this process may open 16 descriptors:
/// raise 'ulimit -n', or close some)".
std::string resource_error_text(int error);

}  // namespace portpool::cli
