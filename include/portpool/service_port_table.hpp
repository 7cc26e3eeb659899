#pragma once

/// @file
/// ServicePortTable: which ports each service may use, for every instance of an application.

#include <portpool/error.hpp>
#include <portpool/service_description.hpp>
#include <portpool/transport.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace portpool {

/// `ports` (sorted) as people read them in messages and tables: runs of consecutive ports as
/// ranges.
///
/// @code
/// portpool::describe_ports(std::vector<unsigned>{6000, 6001, 6002, 6100});  // "6000-6002, 6100"
/// @endcode
template <class Port>
std::string describe_ports(const std::vector<Port>& ports);

/// Where the instance-relative pools of instance N start: `base + (N - 1) * stride`, for
/// N = 1 .. max.
struct InstanceLayout {
  /// The first port of instance 1's range.
  unsigned base = 6000;
  /// How far apart the ranges of two consecutive instances start.
  unsigned stride = 100;
  /// The highest instance number.
  unsigned max = 10;
};

/// Where a service's ports are exclusive: on each host (the default), or across every host of a
/// fleet (each port held by at most one holder of all hosts; see `fleet::FleetLockPolicy`).
enum class PoolScope { host, fleet };

/// The port table of an application: every service's pool, either instance-relative (each running
/// copy of the application gets its own ports) or shared (one fixed list that all copies draw
/// from, each copy starting its search at a different index).
///
/// Build one in code, or load one from TOML with `load_table_file()` or `load_table()` (include
/// `<portpool/config_file.hpp>` for those). Call `validate()` before use; the managers do.
///
/// Thread safety: a table no longer being changed may be read (every const member) from several
/// threads at once; the members that change it need that no other thread uses the table meanwhile.
///
/// @code
/// auto table = portpool::ServicePortTable({/*base*/ 20000, /*stride*/ 10, /*max*/ 4})
///                  .add_instance_pool("worker", 0, 3)
///                  .add_shared_range("dashboard", 21000, 21001);
/// table.validate();
/// table.pool_for("worker", 2);  // {20010, 20011, 20012}
/// @endcode
class ServicePortTable {
 public:
  /// An empty table with the given instance layout.
  explicit ServicePortTable(InstanceLayout layout = {}) : layout_(layout) {}

  /// Adds a pool of `size` ports starting at `base + (N - 1) * stride + offset` for instance N.
  /// @throws ConfigError on an invalid or duplicate name or a size of 0.
  ServicePortTable& add_instance_pool(std::string service, unsigned offset, unsigned size);

  /// Adds a pool of fixed ports shared by all instances, searched in the given order.
  /// @throws ConfigError on an invalid or duplicate name, an empty list or a repeated port.
  ServicePortTable& add_shared_pool(std::string service, std::vector<unsigned> ports);

  /// Adds the shared pool of the ports from `first` to `last`, both included.
  /// @throws ConfigError when `last` is below `first`, and as add_shared_pool().
  ServicePortTable& add_shared_range(std::string service, unsigned first, unsigned last);

  /// Lets the managers of `service` hand out ports that browsers and `fetch()` refuse to connect to
  /// (see `is_fetch_blocked_port()`); they are skipped otherwise. For pools that no browser or
  /// JavaScript client ever connects to.
  /// @throws ArgumentError (a ConfigError) on an unknown service.
  ServicePortTable& allow_fetch_blocked_ports(std::string_view service, bool allow = true);

  /// Describes what `service` serves: the defaults of `Options::description` for its managers
  /// built from this table.
  /// @throws ArgumentError (a ConfigError) on an unknown service; ConfigError on an invalid description.
  ServicePortTable& describe(std::string_view service, ServiceDescription description);

  /// What `service` serves, as described with describe() (empty when it was not).
  /// @throws ArgumentError (a ConfigError) on an unknown service.
  const ServiceDescription& description(std::string_view service) const { return find(service).description; }

  /// Whether `service`'s pool may hand out ports that browsers and `fetch()` refuse.
  /// @throws ArgumentError (a ConfigError) on an unknown service.
  bool allows_fetch_blocked_ports(std::string_view service) const { return find(service).allow_fetch_blocked_ports; }

  /// The ports of `service`'s pool for `instance` that browsers and `fetch()` refuse to connect to,
  /// whether or not the service allows them.
  /// @throws ConfigError as pool_for().
  std::vector<std::uint16_t> fetch_blocked_ports(std::string_view service, unsigned instance) const;

  /// Checks the whole table: at least one service, every port of every instance in 1..65535,
  /// offsets inside the stride, and no two pools overlapping for any instance up to the maximum.
  /// @throws ConfigError naming the services involved and what to change.
  void validate() const;

  /// The ports of `service` for `instance`, in table order. (A manager built from the table tries
  /// an instance-relative pool from its first port, and a shared pool from index
  /// (instance - 1) mod size, wrapping; see search_order().)
  /// @throws ArgumentError (a ConfigError) on an unknown service or an instance outside 1..max; ConfigError on a port
  /// outside 1..65535.
  std::vector<std::uint16_t> pool_for(std::string_view service, unsigned instance) const;

  /// pool_for() in the order a manager tries it: shared pools rotated to start at index
  /// (instance - 1) mod size, so that copies of an application spread over the pool.
  /// @throws ConfigError as pool_for().
  std::vector<std::uint16_t> search_order(std::string_view service, unsigned instance) const;

  /// The service names, in the order they were added.
  std::vector<std::string> services() const;

  /// Whether `service` is shared by all instances.
  /// @throws ArgumentError (a ConfigError) on an unknown service.
  bool is_shared(std::string_view service) const { return find(service).shared; }

  /// Declares where `service`'s ports are exclusive (TOML: `scope = "fleet"`). The table only
  /// records it: a fleet-wide service is acquired with a fleet lock policy (`fleet::FleetLockPolicy`).
  /// @throws ArgumentError (a ConfigError) on an unknown service.
  ServicePortTable& set_scope(std::string_view service, PoolScope scope);

  /// Where `service`'s ports are exclusive (PoolScope::host unless declared otherwise).
  /// @throws ArgumentError (a ConfigError) on an unknown service.
  PoolScope scope(std::string_view service) const { return find(service).scope; }

  /// Declares which socket types `service` serves its port with (TOML: `transport = "udp"`): the
  /// `Options::transport` of its managers built from this table, unless the options set one.
  /// @throws ArgumentError (a ConfigError) on an unknown service.
  ServicePortTable& set_transport(std::string_view service, Transport transport);

  /// Which socket types `service` serves its port with (Transport::tcp unless declared otherwise).
  /// @throws ArgumentError (a ConfigError) on an unknown service.
  Transport transport(std::string_view service) const { return find(service).transport; }

  /// The instance layout the table was built with (its `max` is the highest instance number).
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
    Transport transport = Transport::tcp;
    ServiceDescription description{};
  };

  struct Claim {
    const Service* service;
    unsigned instance;
  };

  void add(Service service);
  Service& find_mutable(std::string_view name);
  const Service& find(std::string_view name) const;
  std::size_t index_of(std::string_view name) const;
  void check_instance(unsigned instance) const;
  // 64-bit, so that a huge base, stride or instance is reported as it is, not wrapped.
  std::vector<std::uint64_t> ports_of(const Service& service, unsigned instance) const;
  void check_layout_fits_ports() const;
  void check_fits_stride(const Service& service) const;
  std::string describe(const Service& service, unsigned instance) const;
  void claim(std::map<std::uint64_t, Claim>& claimed, const Service& service, unsigned instance) const;
  std::string overlap_message(std::uint64_t port, const Claim& first, const Claim& second) const;

  InstanceLayout layout_;
  std::vector<Service> services_;
};

}  // namespace portpool

#include <portpool/impl/service_port_table.hpp>
