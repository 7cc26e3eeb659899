#include "held_port.hpp"

namespace portpool::cli {

bool HeldPort::holds() const noexcept { return lease || listening || datagram || tcp_and_udp; }

namespace {

template <class Held>
auto& lease_of(Held& held) {
  if (held.listening) {
    return held.listening->lease;
  }
  if (held.datagram) {
    return held.datagram->lease;
  }
  return held.tcp_and_udp ? held.tcp_and_udp->lease : held.lease.value();
}

}  // namespace

PortLease& HeldPort::port() { return lease_of(*this); }

const PortLease& HeldPort::port() const { return lease_of(*this); }

std::vector<int> HeldPort::sockets() {
  if (listening) {
    return {static_cast<int>(listening->acceptor.native_handle())};
  }
  if (datagram) {
    return {static_cast<int>(datagram->socket.native_handle())};
  }
  if (tcp_and_udp) {
    return {static_cast<int>(tcp_and_udp->acceptor.native_handle()),
            static_cast<int>(tcp_and_udp->socket.native_handle())};
  }
  return {};
}

std::vector<std::string> HeldPort::socket_names() const {
  if (tcp_and_udp) {
    return {"tcp", "udp"};
  }
  if (listening || datagram) {
    return {port().service()};
  }
  return {};
}

}  // namespace portpool::cli
