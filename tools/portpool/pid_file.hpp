#pragma once

// `run --forking --pid-file PATH`: the main process of a daemon, read from the pid file it writes.
// A pid file is only believed when it is a regular file (not a symbolic link, which could point
// anywhere) naming a running process of CMD's tree: portpool never signals a stranger on a file's word.

#include <sys/types.h>

#include <string>

namespace portpool::cli {

struct PidFileReading {
  enum class Kind {
    absent,       ///< no file yet
    no_process,   ///< a file, but not (yet) the pid of a running process: empty, partly written, stale
    refused,      ///< never to be believed: a symbolic link, not a regular file, unreadable, or a stranger's pid
    main_process  ///< names a running process of the tree
  };
  Kind kind = Kind::absent;
  pid_t pid = -1;       ///< main_process: the pid
  std::string problem;  ///< otherwise: what is wrong, a sentence naming the file
};

/// Reads the pid file `path` of the service whose processes descend from `tree_root` (the keeper).
PidFileReading read_pid_file(const std::string& path, pid_t tree_root);

/// Why `path` cannot be a pid file before CMD starts (a symbolic link, or not a regular file), or
/// empty when it can (it need not exist yet).
std::string unusable_pid_file(const std::string& path);

}  // namespace portpool::cli
