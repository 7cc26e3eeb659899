#pragma once

// This process's id without a system call per use: a lease compares its holder's pid with the
// current one at every release (a forked child must not release its parent's hold), and an
// acquisition records it. The value is read once, then refreshed in the child of every fork()
// by a pthread_atfork handler, before fork() returns there. (A child made by a raw clone() or
// vfork() runs no such handler; it must only exec, as the C library requires of it anyway.)

#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace portpool::detail {

inline pid_t& cached_process_id() {
  static pid_t process_id = [] {
    ::pthread_atfork(nullptr, nullptr, [] { cached_process_id() = ::getpid(); });
    return ::getpid();
  }();
  return process_id;
}

/// What ::getpid() returns, without the call.
inline pid_t current_process_id() { return cached_process_id(); }

inline std::atomic<std::uint64_t>& fork_generation_counter() {
  static std::atomic<std::uint64_t> generation{[] {
    const auto next_generation = [] { fork_generation_counter().fetch_add(1); };
    ::pthread_atfork(nullptr, next_generation, next_generation);
    return std::uint64_t{0};
  }()};
  return generation;
}

/// A number that changes, in the parent and in the child, at every fork() of this process (after
/// it, before fork() returns): a descriptor opened while the number read before its opening was
/// current may be shared with a forked child when the number has changed since. Without a system
/// call; the first call registers the pthread_atfork handlers (a raw clone() or vfork() runs none).
inline std::uint64_t fork_generation() { return fork_generation_counter().load(); }

}  // namespace portpool::detail
