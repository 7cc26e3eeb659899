#pragma once

// The bodies of BindProbe (included at the end of probe.hpp, or by <portpool/src.hpp> under
// PORTPOOL_SEPARATE_COMPILATION).

#include <portpool/impl/port_probe.hpp>

namespace portpool {

PORTPOOL_DECL std::optional<std::string> BindProbe::check(const IpAddress& address, std::uint16_t port) const {
  return detail::probe_every_address(address, port);
}

PORTPOOL_DECL std::optional<std::string> BindProbe::check(const IpAddress& address, std::uint16_t port,
                                                          Transport transport) const {
  return detail::probe_every_address(address, port, transport);
}

}  // namespace portpool
