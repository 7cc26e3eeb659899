#pragma once

// A server's connections are file descriptors. The usual soft limit of 1024 is a leftover of
// select(); Asio uses epoll, so a server can use every descriptor the hard limit allows.

#include <cstdint>

namespace portpool_example {

/// Raises the soft RLIMIT_NOFILE to the hard limit and returns the soft limit now in force (the
/// old one when raising fails).
std::uint64_t raise_descriptor_limit();

}  // namespace portpool_example
