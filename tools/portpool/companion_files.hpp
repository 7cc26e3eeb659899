#pragma once

// Files installed with the portpool command and found from it at run time: libportpool-adopt.so
// (run --adopt) and portpool-fleet (the fleet component). They are looked for beside the running
// executable (the build tree, where all are built in one directory, and the companion directory
// itself, where portpool-fleet runs) and then in the companion directory at its installed place
// relative to the executable (LIBDIR/portpool from BINDIR).

#include <array>
#include <filesystem>
#include <optional>
#include <string>

namespace portpool::cli {

/// Where the companion file `name` is looked for, in order.
std::array<std::filesystem::path, 2> companion_candidates(const std::string& name);

/// The first of companion_candidates(`name`) that is a regular file; none when neither is.
std::optional<std::filesystem::path> find_companion(const std::string& name);

}  // namespace portpool::cli
