#pragma once

// The version of the command's machine-readable output: the lease line, `--json` output and the
// lines of `status --watch --json`. Programs that read them (the Node.js and Python packages)
// check it. It changes when a field is removed or changes meaning; new fields leave it as it is.

namespace portpool::cli {

inline constexpr const char* format_version_key = "format_version";
inline constexpr int format_version = 1;

}  // namespace portpool::cli
