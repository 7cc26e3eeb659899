#pragma once

// Running a test's body in a forked child, optionally as another user: what cannot be checked in
// the test process itself (a forked copy's view, an unprivileged user's view, a crash at exit).

#include <pwd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>
#include <iostream>

namespace portpool::test {

inline uid_t nobody() {
  const passwd* entry = ::getpwnam("nobody");
  return entry == nullptr ? 65534 : entry->pw_uid;
}

/// Runs `body` in a forked child (as nobody when `as_nobody` and root) and returns its exit code,
/// or 128 + the signal that killed it. The body returns 0 for success, or prints what went wrong
/// and returns another code.
template <class Body>
int in_child(Body body, bool as_nobody = false) {
  pid_t child = ::fork();
  if (child == 0) {
    if (as_nobody && ::geteuid() == 0 && (::setgid(nobody()) != 0 || ::setuid(nobody()) != 0)) {
      ::_exit(99);
    }
    int code = 98;
    try {
      code = body();
    } catch (const std::exception& error) {
      std::cerr << "unexpected exception: " << error.what() << '\n';
    }
    std::cerr.flush();
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace portpool::test
