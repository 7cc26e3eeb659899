#pragma once

/// @file
/// ServicePortTable: which ports each service may use, for every instance of an application.

#include <portpool/detail/names.hpp>
#include <portpool/detail/port_list.hpp>
#include <portpool/error.hpp>
#include <portpool/fetch_blocked_ports.hpp>
#include <portpool/impl/valid_name.hpp>
#include <portpool/service_description.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portpool {

/// `ports` (sorted) as people read them in messages and tables: runs of consecutive ports as
/// ranges.
///
/// @code
/// portpool::describe_ports(std::vector<unsigned>{6000, 6001, 6002, 6100});  // "6000-6002, 6100"
/// @endcode
template <class Port>
std::string describe_ports(const std::vector<Port>& ports) {
  return detail::describe_ports(ports);
}

/// Where the instance-relative pools of instance N start: `base + (N - 1) * stride`, for
/// N = 1 .. max.
struct InstanceLayout {
  unsigned base = 6000;
  unsigned stride = 100;
  unsigned max = 10;
};

/// The port table of an application: every service's pool, either instance-relative (each running
/// copy of the application gets its own ports) or shared (one fixed list that all copies draw
/// from, each copy starting its search at a different index).
///
/// Build one in code, take the built-in `defaults()`, or load one with `from_file()`
/// (include `<portpool/config_file.hpp>` for that). Call `validate()` before use; the managers do.
///
/// @code
/// auto table = portpool::ServicePortTable({/*base*/ 20000, /*stride*/ 10, /*max*/ 4})
///                  .add_instance_pool("worker", 0, 3)
///                  .add_shared_range("dashboard", 21000, 21001);
/// table.validate();
/// table.pool_for("worker", 2);  // {20010, 20011, 20012}
/// @endcode
/// Where a service's ports are exclusive: on each host (the default), or across every host of a
/// fleet (each port held by at most one holder of all hosts; see `fleet::FleetLockPolicy`).
enum class PoolScope { host, fleet };

class ServicePortTable {
 public:
  /// An empty table with the given instance layout.
  explicit ServicePortTable(InstanceLayout layout = {}) : layout_(layout) {}

  /// The task sheet's table: mcp-universal, ollama-mcp, groq-api and sandra-ia relative to
  /// base 6000 with stride 100; conversational (7000-7004) and api-server (9000-9002) shared.
  /// Instances 1 to 10 (instance 11 would reach 7000). Port 6000 (instance 1's first
  /// mcp-universal port) is one that browsers and fetch() refuse, so it is skipped: instance 1's
  /// mcp-universal gets 6001 first.
  static ServicePortTable defaults() {
    ServicePortTable table(InstanceLayout{6000, 100, 10});
    table.add_instance_pool("mcp-universal", 0, 3)
        .add_instance_pool("ollama-mcp", 10, 3)
        .add_instance_pool("groq-api", 20, 3)
        .add_instance_pool("sandra-ia", 30, 4)
        .add_shared_range("conversational", 7000, 7004)
        .add_shared_range("api-server", 9000, 9002);
    return table;
  }

  /// Loads a table from a TOML file and validates it. Defined in `<portpool/config_file.hpp>`,
  /// which needs toml++; include that header where you call it.
  /// @throws ConfigError naming the file, line and column of the problem.
  inline static ServicePortTable from_file(const std::filesystem::path& path);

  /// Adds a pool of `size` ports starting at `base + (N - 1) * stride + offset` for instance N.
  /// @throws ConfigError on an invalid or duplicate name or a size of 0.
  ServicePortTable& add_instance_pool(std::string service, unsigned offset, unsigned size) {
    if (size == 0) {
      throw ConfigError(fmt::format("service '{}' has a pool of size 0: give it at least one port", service));
    }
    add(Service{std::move(service), false, offset, size, {}, false, PoolScope::host, {}});
    return *this;
  }

  /// Adds a pool of fixed ports shared by all instances, searched in the given order.
  /// @throws ConfigError on an invalid or duplicate name, an empty list or a repeated port.
  ServicePortTable& add_shared_pool(std::string service, std::vector<unsigned> ports) {
    if (ports.empty()) {
      throw ConfigError(fmt::format("service '{}' has an empty port list: give it at least one port", service));
    }
    auto sorted = ports;
    std::sort(sorted.begin(), sorted.end());
    if (auto repeated = std::adjacent_find(sorted.begin(), sorted.end()); repeated != sorted.end()) {
      throw ConfigError(fmt::format("service '{}' lists port {} twice", service, *repeated));
    }
    add(Service{std::move(service), true, 0, 0, std::move(ports), false, PoolScope::host, {}});
    return *this;
  }

  /// Adds the shared pool `first .. last` (inclusive).
  /// @throws ConfigError when `last < first`, and as add_shared_pool().
  ServicePortTable& add_shared_range(std::string service, unsigned first, unsigned last) {
    if (last < first) {
      throw ConfigError(
          fmt::format("service '{}' has the range {}-{}, whose end is below its start", service, first, last));
    }
    std::vector<unsigned> ports;
    for (unsigned port = first; port <= last && port - first <= max_port; ++port) {
      ports.push_back(port);
    }
    return add_shared_pool(std::move(service), std::move(ports));
  }

  /// Lets the managers of `service` hand out ports that browsers and `fetch()` refuse to connect to
  /// (see `is_fetch_blocked_port()`); they are skipped otherwise. For pools that no browser or
  /// JavaScript client ever connects to.
  /// @throws ConfigError on an unknown service.
  ServicePortTable& allow_fetch_blocked_ports(std::string_view service, bool allow = true) {
    find_mutable(service).allow_fetch_blocked_ports = allow;
    return *this;
  }

  /// Describes what `service` serves: the defaults of `Options::description` for its managers
  /// built from this table.
  /// @throws ConfigError on an unknown service or an invalid description.
  ServicePortTable& describe(std::string_view service, ServiceDescription description) {
    auto& entry = find_mutable(service);
    validate_description(description);
    entry.description = std::move(description);
    return *this;
  }

  /// What `service` serves, as described with describe() (empty when it was not).
  /// @throws ConfigError on an unknown service.
  const ServiceDescription& description(std::string_view service) const { return find(service).description; }

  /// Whether `service`'s pool may hand out ports that browsers and `fetch()` refuse.
  /// @throws ConfigError on an unknown service.
  bool allows_fetch_blocked_ports(std::string_view service) const { return find(service).allow_fetch_blocked_ports; }

  /// The ports of `service`'s pool for `instance` that browsers and `fetch()` refuse to connect to,
  /// whether or not the service allows them.
  /// @throws ConfigError as pool_for().
  std::vector<std::uint16_t> fetch_blocked_ports(std::string_view service, unsigned instance) const {
    auto pool = pool_for(service, instance);
    pool.erase(
        std::remove_if(pool.begin(), pool.end(), [](std::uint16_t port) { return !is_fetch_blocked_port(port); }),
        pool.end());
    return pool;
  }

  /// Checks the whole table: at least one service, every port of every instance in 1..65535,
  /// offsets inside the stride, and no two pools overlapping for any instance up to the maximum.
  /// @throws ConfigError naming the services involved and what to change.
  void validate() const {
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

  /// The ports of `service` for `instance`, in table order. (A manager built from the table tries
  /// an instance-relative pool from its first port, and a shared pool from index
  /// (instance - 1) mod size, wrapping; see search_order().)
  /// @throws ConfigError on an unknown service, an instance outside 1..max, or a port outside
  /// 1..65535.
  std::vector<std::uint16_t> pool_for(std::string_view service, unsigned instance) const {
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

  /// pool_for() in the order a manager tries it: shared pools rotated to start at index
  /// (instance - 1) mod size, so that copies of an application spread over the pool.
  /// @throws ConfigError as pool_for().
  std::vector<std::uint16_t> search_order(std::string_view service, unsigned instance) const {
    auto pool = pool_for(service, instance);
    if (find(service).shared) {
      auto start = static_cast<std::ptrdiff_t>((instance - 1) % pool.size());
      std::rotate(pool.begin(), pool.begin() + start, pool.end());
    }
    return pool;
  }

  /// The service names, in the order they were added.
  std::vector<std::string> services() const {
    std::vector<std::string> names;
    names.reserve(services_.size());
    for (const auto& service : services_) {
      names.push_back(service.name);
    }
    return names;
  }

  /// Whether `service` is shared by all instances.
  /// @throws ConfigError on an unknown service.
  bool is_shared(std::string_view service) const { return find(service).shared; }

  /// Declares where `service`'s ports are exclusive (TOML: `scope = "fleet"`). The table only
  /// records it: a fleet-wide service is acquired with a fleet lock policy (`fleet::FleetLockPolicy`).
  /// @throws ConfigError on an unknown service.
  ServicePortTable& set_scope(std::string_view service, PoolScope scope) {
    find_mutable(service).scope = scope;
    return *this;
  }

  /// Where `service`'s ports are exclusive (PoolScope::host unless declared otherwise).
  /// @throws ConfigError on an unknown service.
  PoolScope scope(std::string_view service) const { return find(service).scope; }

  const InstanceLayout& layout() const noexcept { return layout_; }

 private:
  static constexpr std::uint64_t max_port = 65535;

  struct Service {
    std::string name;
    bool shared = false;
    unsigned offset = 0;
    unsigned size = 0;
    std::vector<unsigned> ports;
    bool allow_fetch_blocked_ports = false;
    PoolScope scope = PoolScope::host;
    ServiceDescription description{};
  };

  struct Claim {
    const Service* service;
    unsigned instance;
  };

  void add(Service service) {
    detail::require_valid_name("service name", service.name);
    for (const auto& existing : services_) {
      if (existing.name == service.name) {
        throw ConfigError(fmt::format("service '{}' is defined twice: give each service one pool", service.name));
      }
    }
    services_.push_back(std::move(service));
  }

  Service& find_mutable(std::string_view name) { return services_[index_of(name)]; }

  const Service& find(std::string_view name) const { return services_[index_of(name)]; }

  std::size_t index_of(std::string_view name) const {
    for (std::size_t index = 0; index < services_.size(); ++index) {
      if (services_[index].name == name) {
        return index;
      }
    }
    std::string known;
    for (const auto& service : services_) {
      known += known.empty() ? service.name : ", " + service.name;
    }
    throw ConfigError(fmt::format("unknown service '{}': the table has {}", name, known.empty() ? "none" : known));
  }

  void check_instance(unsigned instance) const {
    if (instance == 0 || instance > layout_.max) {
      throw ConfigError(
          fmt::format("instance {} is out of range: the table allows instances 1 to {}", instance, layout_.max));
    }
  }

  // 64-bit, so that a huge base, stride or instance is reported as it is, not wrapped.
  std::vector<std::uint64_t> ports_of(const Service& service, unsigned instance) const {
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

  void check_layout_fits_ports() const {
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

  void check_fits_stride(const Service& service) const {
    if (!service.shared && std::uint64_t{service.offset} + service.size > layout_.stride) {
      throw ConfigError(
          fmt::format("service '{}' (offset {}, size {}) does not fit inside the stride of {}: its pools of two "
                      "instances would overlap; lower the offset or size, or raise the stride",
                      service.name, service.offset, service.size, layout_.stride));
    }
  }

  std::string describe(const Service& service, unsigned instance) const {
    auto ports = ports_of(service, instance);
    if (service.shared) {
      return fmt::format("'{}' (shared: {})", service.name, detail::describe_ports(ports));
    }
    return fmt::format("'{}' for instance {} ({})", service.name, instance, detail::describe_ports(ports));
  }

  void claim(std::map<std::uint64_t, Claim>& claimed, const Service& service, unsigned instance) const {
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

  std::string overlap_message(std::uint64_t port, const Claim& first, const Claim& second) const {
    auto message = fmt::format("pools overlap at port {}: {} and {}", port, describe(*first.service, first.instance),
                               describe(*second.service, second.instance));
    auto highest = std::max(first.instance, second.instance);
    if (highest > 1) {
      return message + fmt::format("; lower [instances] max to {} or move one of the pools", highest - 1);
    }
    return message + "; move one of the pools";
  }

  InstanceLayout layout_;
  std::vector<Service> services_;
};

}  // namespace portpool
