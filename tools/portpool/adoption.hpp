#pragma once

// `run --adopt PORT[,PORT...]`: CMD's binds of those port numbers get the listening socket of the
// pool port `run` holds (passed as descriptor 3), by one of two mechanisms: the LD_PRELOAD library
// libportpool-adopt.so (tools/adopt/portpool_adopt.c) for dynamically linked programs, or the
// keeper's seccomp filter for static ones (docs/cli.md, "--adopt").

#include <cstdint>
#include <string>
#include <vector>

namespace portpool::cli {

enum class AdoptMode { preload, seccomp };

/// "preload" or "seccomp", as `run` reports it.
const char* to_string(AdoptMode mode);

/// The port numbers of `--adopt LIST` (comma-separated, each 1 to 65535), without repeats.
/// @throws UsageError naming the value that is wrong.
std::vector<std::uint16_t> parse_adopted_ports(const std::string& list);

/// How a program is linked, read from its first bytes.
enum class ProgramLinking {
  dynamic,            ///< an ELF file with an interpreter (PT_INTERP): the dynamic loader honours LD_PRELOAD
  static_executable,  ///< an ELF file without one: LD_PRELOAD has no effect
  go,                 ///< a Go executable (its build id note), linked either way: it makes system calls itself
  script,             ///< starts with "#!": its interpreter runs, which is dynamically linked on every usual system
  unknown,            ///< unreadable, or neither
};

/// @throws nothing: a file that cannot be read is unknown.
ProgramLinking program_linking(const std::string& path);

/// The mechanism for `--adopt-mode requested` ("preload", "seccomp", or "auto" / empty: seccomp for
/// a static executable or a Go one, preload otherwise) and CMD's resolved program.
AdoptMode chosen_adopt_mode(const std::string& requested, const std::string& program);

/// The path of libportpool-adopt.so beside this executable (the build tree) or at its installed
/// place relative to it (../lib/portpool/ or as installed).
/// @throws CommandError (69) saying where it was looked for, when it is in neither place.
std::string adopt_library_path();

/// `environment` with what the preload library reads: `library` first in LD_PRELOAD (before any
/// value it had), PORTPOOL_ADOPT_PORTS (the ports, comma-separated) and PORTPOOL_ADOPT_FD (3).
/// @throws CommandError (69) when `library`'s path has a ':' or a space, which LD_PRELOAD cannot hold.
std::vector<std::string> with_preload_environment(std::vector<std::string> environment,
                                                  const std::vector<std::uint16_t>& ports, const std::string& library);

/// The ports comma-separated: "8000,8001".
std::string port_list(const std::vector<std::uint16_t>& ports);

}  // namespace portpool::cli
