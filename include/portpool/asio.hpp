#pragma once

/// @file
/// Everything in portpool's core (<portpool/portpool.hpp>) and the parts built on Boost.Asio: a
/// port taken already listening (`acquire_listening()`, ListeningLease), the PortShield that tells
/// a server it lost its port, and the conversions between IpAddress and Asio's addresses.
///
/// A program that only takes ports includes <portpool/portpool.hpp> (or one header per class) and
/// does not parse Asio.

#include <portpool/ip_address_asio.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/port_shield.hpp>
#include <portpool/portpool.hpp>
#include <portpool/shield_options.hpp>
