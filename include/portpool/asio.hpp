#pragma once

/// @file
/// Everything in portpool's core (<portpool/portpool.hpp>) and the parts built on Boost.Asio: a
/// port taken already listening (`acquire_listening()`, ListeningLease), or with its UDP socket bound
/// (`acquire_datagram()`, DatagramLease; `acquire_tcp_and_udp()`, TcpAndUdpLease), the PortShield that tells
/// a server it lost its port, and the conversions between IpAddress and Asio's addresses.
///
/// A program that only takes ports includes <portpool/portpool.hpp> (or one header per class) and
/// does not parse Asio.

#include <portpool/datagram_lease.hpp>
#include <portpool/ip_address_asio.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/port_shield.hpp>
#include <portpool/portpool.hpp>
#include <portpool/shield_options.hpp>
#include <portpool/tcp_and_udp_lease.hpp>
