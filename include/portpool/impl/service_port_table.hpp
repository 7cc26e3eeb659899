#pragma once

// The bodies of ServicePortTable (included at the end of service_port_table.hpp). Ports are
// computed in 64 bits, so that a huge base, stride or instance is reported as the number it
// reaches, not wrapped; validate() claims every port of every instance in one map, so that the
// first overlap names both services.

// Only service_port_table.hpp includes this file, at its end, after the declarations it defines.

#include <portpool/detail/port_list.hpp>
#include <portpool/fetch_blocked_ports.hpp>
#include <portpool/impl/valid_name.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace portpool {

template <class Port>
std::string describe_ports(const std::vector<Port>& ports) {
  return detail::describe_ports(ports);
}

inline ServicePortTable& ServicePortTable::add_instance_pool(std::string service, unsigned offset, unsigned size) {
  if (size == 0) {
    throw ConfigError(
        fmt::format("service '{}' has a pool of size 0: give it at least one port", detail::printable_text(service)));
  }
  add(Service{std::move(service), false, offset, size, {}, false, PoolScope::host, {}});
  return *this;
}

inline ServicePortTable& ServicePortTable::add_shared_pool(std::string service, std::vector<unsigned> ports) {
  if (ports.empty()) {
    throw ConfigError(
        fmt::format("service '{}' has an empty port list: give it at least one port", detail::printable_text(service)));
  }
  auto sorted = ports;
  std::sort(sorted.begin(), sorted.end());
  if (auto repeated = std::adjacent_find(sorted.begin(), sorted.end()); repeated != sorted.end()) {
    throw ConfigError(fmt::format("service '{}' lists port {} twice", detail::printable_text(service), *repeated));
  }
  add(Service{std::move(service), true, 0, 0, std::move(ports), false, PoolScope::host, {}});
  return *this;
}

inline ServicePortTable& ServicePortTable::add_shared_range(std::string service, unsigned first, unsigned last) {
  if (last < first) {
    throw ConfigError(fmt::format("service '{}' has the range {}-{}, whose end is below its start",
                                  detail::printable_text(service), first, last));
  }
  std::vector<unsigned> ports;
  for (unsigned port = first; port <= last && port - first <= max_port; ++port) {
    ports.push_back(port);
  }
  return add_shared_pool(std::move(service), std::move(ports));
}

inline ServicePortTable& ServicePortTable::allow_fetch_blocked_ports(std::string_view service, bool allow) {
  find_mutable(service).allow_fetch_blocked_ports = allow;
  return *this;
}

inline ServicePortTable& ServicePortTable::describe(std::string_view service, ServiceDescription description) {
  auto& entry = find_mutable(service);
  validate_description(description);
  entry.description = std::move(description);
  return *this;
}

inline std::vector<std::uint16_t> ServicePortTable::fetch_blocked_ports(std::string_view service,
                                                                        unsigned instance) const {
  auto pool = pool_for(service, instance);
  pool.erase(std::remove_if(pool.begin(), pool.end(), [](std::uint16_t port) { return !is_fetch_blocked_port(port); }),
             pool.end());
  return pool;
}

inline void ServicePortTable::validate() const {
  if (services_.empty()) {
    throw ConfigError("the port table has no services: add at least one");
  }
  if (layout_.stride == 0 || layout_.max == 0) {
    throw ConfigError(fmt::format("the instance layout needs stride >= 1 and max >= 1 (got stride {}, max {})",
                                  layout_.stride, layout_.max));
  }
  check_layout_fits_ports();
  for (const auto& service : services_) {
    check_fits_stride(service);
  }
  std::map<std::uint64_t, Claim> claimed;
  for (const auto& service : services_) {
    if (service.shared) {
      claim(claimed, service, 0);
    }
  }
  for (unsigned instance = 1; instance <= layout_.max; ++instance) {
    for (const auto& service : services_) {
      if (!service.shared) {
        claim(claimed, service, instance);
      }
    }
  }
}

inline std::vector<std::uint16_t> ServicePortTable::pool_for(std::string_view service, unsigned instance) const {
  const auto& entry = find(service);
  check_instance(instance);
  auto ports = ports_of(entry, instance);
  std::vector<std::uint16_t> pool;
  pool.reserve(ports.size());
  for (auto port : ports) {
    if (port == 0 || port > max_port) {
      throw ConfigError(
          fmt::format("service '{}' for instance {} reaches port {}, outside 1..65535", service, instance, port));
    }
    pool.push_back(static_cast<std::uint16_t>(port));
  }
  return pool;
}

inline std::vector<std::uint16_t> ServicePortTable::search_order(std::string_view service, unsigned instance) const {
  auto pool = pool_for(service, instance);
  if (find(service).shared) {
    auto start = static_cast<std::ptrdiff_t>((instance - 1) % pool.size());
    std::rotate(pool.begin(), pool.begin() + start, pool.end());
  }
  return pool;
}

inline std::vector<std::string> ServicePortTable::services() const {
  std::vector<std::string> names;
  names.reserve(services_.size());
  for (const auto& service : services_) {
    names.push_back(service.name);
  }
  return names;
}

inline ServicePortTable& ServicePortTable::set_transport(std::string_view service, Transport transport) {
  find_mutable(service).transport = transport;
  return *this;
}

inline ServicePortTable& ServicePortTable::set_scope(std::string_view service, PoolScope scope) {
  find_mutable(service).scope = scope;
  return *this;
}

inline void ServicePortTable::add(Service service) {
  detail::require_valid_name("service name", service.name);
  for (const auto& existing : services_) {
    if (existing.name == service.name) {
      throw ConfigError(fmt::format("service '{}' is defined twice: give each service one pool", service.name));
    }
  }
  services_.push_back(std::move(service));
}

inline ServicePortTable::Service& ServicePortTable::find_mutable(std::string_view name) {
  return services_[index_of(name)];
}

inline const ServicePortTable::Service& ServicePortTable::find(std::string_view name) const {
  return services_[index_of(name)];
}

inline std::size_t ServicePortTable::index_of(std::string_view name) const {
  for (std::size_t index = 0; index < services_.size(); ++index) {
    if (services_[index].name == name) {
      return index;
    }
  }
  std::string known;
  for (const auto& service : services_) {
    known += known.empty() ? service.name : ", " + service.name;
  }
  throw ArgumentError(fmt::format("unknown service '{}': the table has {}", detail::printable_text(name),
                                  known.empty() ? "none" : known));
}

inline void ServicePortTable::check_instance(unsigned instance) const {
  if (instance == 0 || instance > layout_.max) {
    throw ArgumentError(
        fmt::format("instance {} is out of range: the table allows instances 1 to {}", instance, layout_.max));
  }
}

inline std::vector<std::uint64_t> ServicePortTable::ports_of(const Service& service, unsigned instance) const {
  if (service.shared) {
    return {service.ports.begin(), service.ports.end()};
  }
  std::vector<std::uint64_t> ports;
  const auto first = std::uint64_t{layout_.base} + std::uint64_t{instance - 1} * layout_.stride + service.offset;
  for (auto port = first; port < first + service.size; ++port) {
    ports.push_back(port);
  }
  return ports;
}

inline void ServicePortTable::check_layout_fits_ports() const {
  auto out_of_range = [](std::uint64_t value) { return value == 0 || value > max_port; };
  if (out_of_range(layout_.base) || out_of_range(layout_.stride) || out_of_range(layout_.max)) {
    throw ConfigError(fmt::format(
        "the instance layout (base {}, stride {}, max {}) is out of range: base, stride and max must each be "
        "1..65535",
        layout_.base, layout_.stride, layout_.max));
  }
  for (const auto& service : services_) {
    if (!service.shared && (service.offset > max_port || service.size > max_port)) {
      throw ConfigError(fmt::format("service '{}' has offset {} and size {}: each must be within 0..65535",
                                    service.name, service.offset, service.size));
    }
  }
}

inline void ServicePortTable::check_fits_stride(const Service& service) const {
  if (!service.shared && std::uint64_t{service.offset} + service.size > layout_.stride) {
    throw ConfigError(
        fmt::format("service '{}' (offset {}, size {}) does not fit inside the stride of {}: its pools of two "
                    "instances would overlap; lower the offset or size, or raise the stride",
                    service.name, service.offset, service.size, layout_.stride));
  }
}

inline std::string ServicePortTable::describe(const Service& service, unsigned instance) const {
  auto ports = ports_of(service, instance);
  if (service.shared) {
    return fmt::format("'{}' (shared: {})", service.name, detail::describe_ports(ports));
  }
  return fmt::format("'{}' for instance {} ({})", service.name, instance, detail::describe_ports(ports));
}

inline void ServicePortTable::claim(std::map<std::uint64_t, Claim>& claimed, const Service& service,
                                    unsigned instance) const {
  for (auto port : ports_of(service, instance)) {
    if (port == 0 || port > max_port) {
      throw ConfigError(
          fmt::format("{} reaches port {}, outside 1..65535; lower [instances] max to {} or "
                      "move the pool",
                      describe(service, instance), port, instance > 1 ? instance - 1 : 1));
    }
    auto [slot, inserted] = claimed.try_emplace(port, Claim{&service, instance});
    if (!inserted) {
      throw ConfigError(overlap_message(port, slot->second, Claim{&service, instance}));
    }
  }
}

inline std::string ServicePortTable::overlap_message(std::uint64_t port, const Claim& first,
                                                     const Claim& second) const {
  auto message = fmt::format("pools overlap at port {}: {} and {}", port, describe(*first.service, first.instance),
                             describe(*second.service, second.instance));
  auto highest = std::max(first.instance, second.instance);
  if (highest > 1) {
    return message + fmt::format("; lower [instances] max to {} or move one of the pools", highest - 1);
  }
  return message + "; move one of the pools";
}

}  // namespace portpool
