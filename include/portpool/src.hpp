#pragma once

/// @file
/// The bodies of the library's core, for a program compiled with PORTPOOL_SEPARATE_COMPILATION:
/// include this header in exactly one unit of the program (and nowhere else).
///
/// Header-only (the default), every unit that includes <portpool/port_pool_manager.hpp> compiles
/// the bodies of the manager, the lease, the lock policy, the probe and the address, and every unit
/// that includes <portpool/registry.hpp>, <portpool/registry_watcher.hpp> or
/// <portpool/instance_manager.hpp> those of the registry, its watcher or the instance manager. A program
/// that defines PORTPOOL_SEPARATE_COMPILATION for every unit (for example with
/// `target_compile_definitions(app PRIVATE PORTPOOL_SEPARATE_COMPILATION)`) sees only their
/// declarations there, and compiles them once, in the unit that includes this header. The API and
/// the behaviour are the same; only where the code is compiled changes. docs/benchmarks.md gives
/// what an include costs either way.
///
/// @code
/// // portpool.cpp, one unit of the program
/// #include <portpool/src.hpp>
/// @endcode
///
/// The other headers (the port table and its file loader, the Asio forms and the shield, the fleet
/// layer) keep their bodies inline in either mode.

#if !defined(PORTPOOL_SEPARATE_COMPILATION)
#error "<portpool/src.hpp> is for a program that defines PORTPOOL_SEPARATE_COMPILATION in every unit"
#endif

#include <portpool/instance_manager.hpp>
#include <portpool/ip_address.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/probe.hpp>
#include <portpool/registry.hpp>
#include <portpool/registry_watcher.hpp>

#include <portpool/impl/instance_manager.ipp>
#include <portpool/impl/ip_address.ipp>
#include <portpool/impl/lock_policy.ipp>
#include <portpool/impl/port_lease.ipp>
#include <portpool/impl/port_pool_manager.hpp>
#include <portpool/impl/probe.ipp>
#include <portpool/impl/registry.ipp>
#include <portpool/impl/registry_watcher.ipp>

namespace portpool {

template class BasicPortPoolManager<FileLockPolicy, BindProbe>;

}  // namespace portpool
