#pragma once

// `run --adopt-mode seccomp`: a program binds a fixed TCP port in its own code, and gets the
// listening socket `portpool` holds on a pool port instead, static binaries included.
//
// CMD's process, after fork and before exec, installs a seccomp filter that stops each bind() of its
// tree and notifies a listener descriptor (install_bind_filter); the listener goes to the keeper over
// a socketpair made before the fork (SCM_RIGHTS: no ptrace permission is needed to receive it, and
// the child can report a failure on the same channel). The keeper serves the listener
// (BindAdoption): a bind of an adopted port number, on any address of either family, by a TCP
// socket, is answered by installing the held socket over the program's descriptor, and reported as
// succeeded; every other bind continues in the kernel as if there were no filter.
//
//   // before fork
//   if (auto problem = seccomp_adoption_unavailable()) { report(*problem); }
//   int channel[2];
//   ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel);
//   // in the child, just before exec:
//   send_filter_outcome(channel[1], install_bind_filter());
//   // in the keeper:
//   ::close(channel[1]);
//   auto listener = receive_bind_listener(channel[0]);  // the child's error, said, when it failed
//   BindAdoption adoption(std::move(*listener.descriptor), held_socket, {8000});
//   // in its poll loop, when adoption.descriptor() is readable:
//   adoption.serve_one();
//
// Linux 5.9 or later (SECCOMP_IOCTL_NOTIF_ADDFD); the system call numbers of x86_64 and aarch64.

#include <portpool/unique_fd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portpool::cli {

/// The environment variable `portpool run` gives the keeper: the adopted port numbers, "8000,8001".
/// The keeper removes it from CMD's environment.
inline constexpr const char* adopted_ports_variable = "PORTPOOL_KEEPER_ADOPT";

/// The port numbers of a PORTPOOL_KEEPER_ADOPT value ("8000,8001"; 0 to 65535 each, at least one);
/// nullopt when it is not such a list.
std::optional<std::vector<std::uint16_t>> keeper_adopted_ports(std::string_view text);

/// Why this machine cannot adopt binds with seccomp (a sentence saying what to do instead), or
/// nullopt when it can. Looks at the kernel's version and the build's architecture; no process is
/// started. Call it before forking CMD.
std::optional<std::string> seccomp_adoption_unavailable();

/// The call of install_bind_filter that failed.
enum class FilterStep : std::int32_t { none, no_new_privs, seccomp };

/// What install_bind_filter did: the listener descriptor, or the errno of the step that failed.
struct FilterOutcome {
  int listener = -1;
  int error = 0;
  FilterStep failed_step = FilterStep::none;
};

/// In CMD's process, after fork and before exec (async-signal-safe: system calls only): sets
/// no_new_privs and installs the bind filter with a new listener, which it returns. Every process
/// CMD's program starts inherits the filter.
FilterOutcome install_bind_filter();

/// In the same process: sends `outcome` on `channel` (the listener by SCM_RIGHTS, or the failure),
/// then closes the listener, which CMD's program must not hold. Returns false when sending failed.
/// Async-signal-safe.
bool send_filter_outcome(int channel, const FilterOutcome& outcome);

/// In the keeper: the listener CMD's process sent, or, when it failed or died first, a message
/// saying why (without "portpool: ").
struct ReceivedListener {
  std::optional<UniqueFd> descriptor;
  std::string problem;
  int error = 0;  ///< the errno behind `problem`
};
ReceivedListener receive_bind_listener(int channel);

/// Serves the bind notifications of one filter. Not thread-safe: one thread serves it.
class BindAdoption {
 public:
  /// `held_socket`: the listening TCP socket the adopted binds get (not owned, must stay open).
  BindAdoption(UniqueFd listener, int held_socket, std::vector<std::uint16_t> ports);

  /// What to poll (POLLIN: a notification waits; POLLHUP: no process of the filter is left).
  int descriptor() const { return listener_.get(); }

  /// Receives one notification and answers it. A notification whose process died is dropped.
  /// Returns an error message (without "portpool: ") when the listener itself failed: the
  /// adoption cannot go on.
  std::optional<std::string> serve_one();

  /// How many binds got the held socket so far.
  std::uint64_t adopted_count() const { return adopted_count_; }

 private:
  UniqueFd listener_;
  int held_socket_;
  std::vector<std::uint16_t> ports_;
  std::vector<unsigned char> notification_;  ///< the kernel's struct seccomp_notif, at its size
  std::uint64_t adopted_count_ = 0;
};

}  // namespace portpool::cli
