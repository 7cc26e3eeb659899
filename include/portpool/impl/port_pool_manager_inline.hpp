#pragma once

// The member templates of BasicPortPoolManager that a program instantiates itself, whichever way
// the library is compiled (included at the end of port_pool_manager.hpp): the table constructor
// and the waiting forms, for any table, duration and clock. They hand over to members that are
// not templates of their own.

#include <portpool/detail/deadline.hpp>
#include <portpool/service_description.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace portpool {

namespace detail {

template <class Table>
std::vector<std::uint16_t> pool_from_table(const Table& table, const std::string& service, unsigned instance) {
  table.validate();
  return table.search_order(service, instance);
}

// The table's word on fetch-blocked ports and the service's description, for a manager built from it.
template <class Table>
Options with_table_permissions(const Table& table, const std::string& service, Options options) {
  options.allow_fetch_blocked_ports = options.allow_fetch_blocked_ports || table.allows_fetch_blocked_ports(service);
  options.description = with_defaults(std::move(options.description), table.description(service));
  if (!options.transport) {
    options.transport = table.transport(service);
  }
  return options;
}

}  // namespace detail

template <class LockPolicy, class ProbePolicy>
template <class Table, std::enable_if_t<std::is_same_v<Table, ServicePortTable>, int>>
BasicPortPoolManager<LockPolicy, ProbePolicy>::BasicPortPoolManager(const Table& table, std::string service,
                                                                    Options options)
    : BasicPortPoolManager(service, detail::pool_from_table(table, service, options.instance),
                           detail::with_table_permissions(table, service, std::move(options))) {}

template <class LockPolicy, class ProbePolicy>
template <class Rep, class Period>
PortLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_for(std::chrono::duration<Rep, Period> timeout) {
  return acquire_until(detail::deadline_after(timeout));
}

template <class LockPolicy, class ProbePolicy>
template <class Clock, class Duration>
PortLease BasicPortPoolManager<LockPolicy, ProbePolicy>::acquire_until(
    std::chrono::time_point<Clock, Duration> deadline) {
  if (auto lease = acquire_waiting(detail::time_left_until(deadline))) {
    return std::move(*lease);
  }
  return acquire();
}

template <class LockPolicy, class ProbePolicy>
template <class Rep, class Period>
std::optional<PortLease> BasicPortPoolManager<LockPolicy, ProbePolicy>::try_acquire_for(
    std::chrono::duration<Rep, Period> timeout) {
  return try_acquire_until(detail::deadline_after(timeout));
}

template <class LockPolicy, class ProbePolicy>
template <class Clock, class Duration>
std::optional<PortLease> BasicPortPoolManager<LockPolicy, ProbePolicy>::try_acquire_until(
    std::chrono::time_point<Clock, Duration> deadline) {
  if (auto lease = acquire_waiting(detail::time_left_until(deadline))) {
    return lease;
  }
  return try_acquire();
}

}  // namespace portpool
