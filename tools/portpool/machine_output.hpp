#pragma once

// The version of the command's machine-readable output: the lease line, `--json` output and the
// lines of `status --watch --json`. Programs that read them (the Node.js and Python packages)
// check it. It changes when a field is removed or changes meaning; new fields leave it as it is.
// 2: a lease's holder `pid` is the program that started the lease, the lease process `helper_pid`.

#include <nlohmann/json.hpp>

namespace portpool::cli {

inline constexpr const char* format_version_key = "format_version";
inline constexpr int format_version = 2;

/// `line` with the version as its first field.
inline nlohmann::ordered_json versioned(const nlohmann::ordered_json& line) {
  nlohmann::ordered_json result{{format_version_key, format_version}};
  result.update(line);
  return result;
}

}  // namespace portpool::cli
