#pragma once

// This process's id without a system call per use: a lease compares its holder's pid with the
// current one at every release (a forked child must not release its parent's hold), and an
// acquisition records it. The value is read once, then refreshed in the child of every fork()
// by a pthread_atfork handler, before fork() returns there. (A child made by a raw clone() or
// vfork() runs no such handler; it must only exec, as the C library requires of it anyway.)

#include <pthread.h>
#include <sys/types.h>
#include <unistd.h>

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

}  // namespace portpool::detail
