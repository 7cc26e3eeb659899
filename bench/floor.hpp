#pragma once

// The floor: the bare system calls that acquiring and releasing one port needs, with nothing
// around them. Taking the lock is open + fcntl(F_OFD_SETLK) + unlock + close of the port's lock
// file (4 calls); checking that nobody listens on the port anywhere is socket +
// setsockopt(SO_REUSEADDR) + bind to the dual-stack wildcard [::] + listen + close (5 calls).
// Their sum, 9 calls, is what any checked acquisition costs at the least; portpool's figures are
// given as multiples of it. For a UDP port the check is socket + bind + close (3 calls), and the UDP
// floor 7 calls.

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace portpool_bench {

/// Locks and unlocks the file `name` of `directory` (created when missing), as the floor does.
inline bool lock_and_unlock(int directory, const char* name) {
  int file = ::openat(directory, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
  if (file < 0) {
    return false;
  }
  struct flock request {};
  request.l_type = F_WRLCK;
  request.l_whence = SEEK_SET;
  bool locked = ::fcntl(file, F_OFD_SETLK, &request) == 0;
  request.l_type = F_UNLCK;
  bool unlocked = ::fcntl(file, F_OFD_SETLK, &request) == 0;
  ::close(file);
  return locked && unlocked;
}

/// Listens on [::]:`port` (every local address of both families) and closes, as the floor does.
inline bool listen_and_close(std::uint16_t port) {
  int socket = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (socket < 0) {
    return false;
  }
  int reuse = 1;
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_port = htons(port);
  any.sin6_addr = in6addr_any;
  bool listened = ::setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse) == 0 &&
                  ::bind(socket, reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0 &&
                  ::listen(socket, SOMAXCONN) == 0;
  ::close(socket);
  return listened;
}

/// Binds a UDP socket to [::]:`port` (every local address of both families) and closes: the UDP
/// floor's check, socket + bind + close (3 calls; UDP has no listen, and the probe sets no option).
inline bool bind_udp_and_close(std::uint16_t port) {
  int socket = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (socket < 0) {
    return false;
  }
  sockaddr_in6 any{};
  any.sin6_family = AF_INET6;
  any.sin6_port = htons(port);
  any.sin6_addr = in6addr_any;
  bool bound = ::bind(socket, reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0;
  ::close(socket);
  return bound;
}

}  // namespace portpool_bench
