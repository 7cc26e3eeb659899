#pragma once

/// @file
/// UniqueFd: an owned file descriptor, as the library, the portpool command and the example
/// servers hold every descriptor they open.

#include <portpool/detail/platform.hpp>

#include <unistd.h>

#include <utility>

namespace portpool {

/// Owns one file descriptor and closes it when destroyed, like std::unique_ptr for memory.
/// Move-only; closing is explicit in the type so that no descriptor is closed twice or by accident
/// (with classic fcntl locks, closing any descriptor of a file drops the process's lock on it).
///
/// @code
/// portpool::UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
/// if (!socket) { /* errno says why */ }
/// ::listen(socket.get(), SOMAXCONN);
/// @endcode
/// Thread safety: as for an `int`: one object is used by one thread at a time.
class UniqueFd {
 public:
  /// Owns nothing.
  UniqueFd() = default;
  /// Owns `fd` (which may be -1: nothing).
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  /// Takes `other`'s descriptor; `other` then owns nothing.
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  /// Closes the descriptor owned, then takes `other`'s; `other` then owns nothing.
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset(std::exchange(other.fd_, -1));
    }
    return *this;
  }
  ~UniqueFd() { reset(); }

  /// The descriptor, or -1 when empty.
  int get() const noexcept { return fd_; }
  /// Gives up ownership: returns the descriptor without closing it; this becomes empty.
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
  /// Whether a descriptor is owned.
  explicit operator bool() const noexcept { return fd_ >= 0; }

  /// Closes the owned descriptor, if any, and owns `fd` instead.
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace portpool
