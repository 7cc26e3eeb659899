#pragma once

// portpool is built on Linux's own calls: open-file-description locks (F_OFD_SETLK, Linux 3.15),
// statx (Linux 4.11, glibc 2.28), sock_diag (NETLINK_SOCK_DIAG) to name a port's listeners,
// inotify, and /proc. No other system has all of them, so it stops here rather than deep inside
// a system header.

#if !defined(__linux__)
#error "portpool needs Linux 4.11 or later: F_OFD_SETLK locks, statx, sock_diag, inotify and /proc"
#endif
