#pragma once

/// @file
/// Conversions between `portpool::IpAddress` and Boost.Asio's addresses: an Asio address converts
/// implicitly into an IpAddress (so `options.probe_address = boost::asio::ip::make_address("::1")`
/// compiles), and `to_asio_address()` gives the Asio address of an IpAddress. Included by
/// <portpool/listening_lease.hpp> and <portpool/port_shield.hpp>; the core headers do without it.

#include <portpool/ip_address.hpp>

#include <boost/asio/ip/address.hpp>

namespace portpool {

/// Converts an Asio IPv4 address into an IpAddress (what the converting constructor of IpAddress uses).
template <>
struct IpAddressConversion<boost::asio::ip::address_v4> {
  /// The IpAddress of `address`.
  static IpAddress to_ip_address(const boost::asio::ip::address_v4& address) noexcept {
    return IpAddress::v4(address.to_bytes());
  }
};

/// Converts an Asio IPv6 address, scope id included into an IpAddress (what the converting constructor of IpAddress
/// uses).
template <>
struct IpAddressConversion<boost::asio::ip::address_v6> {
  /// The IpAddress of `address`.
  static IpAddress to_ip_address(const boost::asio::ip::address_v6& address) noexcept {
    return IpAddress::v6(address.to_bytes(), static_cast<std::uint32_t>(address.scope_id()));
  }
};

/// Converts an Asio address of either family into an IpAddress (what the converting constructor of IpAddress uses).
template <>
struct IpAddressConversion<boost::asio::ip::address> {
  /// The IpAddress of `address`.
  static IpAddress to_ip_address(const boost::asio::ip::address& address) noexcept {
    return address.is_v4() ? IpAddressConversion<boost::asio::ip::address_v4>::to_ip_address(address.to_v4())
                           : IpAddressConversion<boost::asio::ip::address_v6>::to_ip_address(address.to_v6());
  }
};

/// The Asio address of `address`, scope id included.
///
/// @code
/// boost::asio::ip::tcp::endpoint endpoint(portpool::to_asio_address(options.probe_address), port);
/// @endcode
inline boost::asio::ip::address to_asio_address(const IpAddress& address) {
  if (address.is_v4()) {
    return boost::asio::ip::address_v4(address.v4_bytes());
  }
  return boost::asio::ip::address_v6(address.v6_bytes(), address.scope_id());
}

}  // namespace portpool
