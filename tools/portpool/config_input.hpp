#pragma once

// Reading the config file given to --config, defensively: it is only read when it is a regular
// file of at most max_config_size bytes, so that a FIFO, a device (/dev/zero) or a huge file is
// refused at once instead of hanging or filling the memory.

#include <cstddef>
#include <string>

namespace portpool::cli {

inline constexpr std::size_t max_config_size = std::size_t{1024} * 1024;

/// The whole text of the config file `path`.
/// @throws ConfigError when it is not a regular file, is larger than max_config_size or cannot
/// be read; ResourceError when descriptors or memory run out.
std::string read_config_file(const std::string& path);

}  // namespace portpool::cli
