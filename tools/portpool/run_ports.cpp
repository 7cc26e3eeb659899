#include "run_ports.hpp"

#include "exit_codes.hpp"
#include "port_wait.hpp"

#include <portpool/port_pool_manager.hpp>

#include <fmt/format.h>

#include <utility>

namespace portpool::cli {

void add_fleet_run_options(CLI::App& command, FleetRunArguments& arguments) {
  fleet_command_line::add_etcd_options(command, arguments.etcd);
  command.get_option("--etcd")->description(
      "etcd client URLs, comma-separated: needed for a fleet-wide service (scope = \"fleet\"), whose port is "
      "claimed in etcd too");
  command.add_option("--host-id", arguments.host_id, "this host's id in the fleet's claims (default: /etc/machine-id)")
      ->type_name("ID");
  command
      .add_option("--fleet-ttl", arguments.ttl,
                  "TTL of the lease of the port's fleet claim: another host may take the port this long after "
                  "etcd last heard of this one (default 10s, whole seconds)")
      ->type_name("DURATION");
  command
      .add_option("--fleet-stop-margin", arguments.stop_margin,
                  "CMD's tree is ended this long before the fleet claim could expire when etcd stops confirming "
                  "renewals; must hold --kill-grace plus 500ms (default: exactly that)")
      ->type_name("DURATION");
}

RunPorts::RunPorts(const ServicePortTable& table, std::string service, const FleetRunArguments& fleet,
                   const ClaimsLossHandling& loss)
    : table_(table), service_(std::move(service)) {
  if (table_.scope(service_) != PoolScope::fleet) {
    return;
  }
  if (fleet.etcd.endpoints.empty()) {
    throw UsageError(fmt::format(
        "service '{}' is fleet-wide (scope = \"fleet\"): its port is claimed in the fleet's etcd before it is "
        "locked here; pass --etcd URL[,URL...] (e.g. --etcd http://127.0.0.1:2379)",
        service_));
  }
  claims_ = open_claims(fleet, loss);
}

PortLease RunPorts::acquire(const Options& options, std::chrono::milliseconds wait) const {
  if (claims_) {
    return acquire_fleet(options, wait);
  }
  PortPoolManager manager(table_, service_, options);
  return take_waiting_unless_stopped(wait, service_,
                                     [&](std::chrono::milliseconds timeout) { return manager.acquire_for(timeout); });
}

ListeningLease RunPorts::acquire_listening(const Options& options, const boost::asio::any_io_executor& executor,
                                           std::chrono::milliseconds wait) const {
  if (claims_) {
    return acquire_fleet_listening(options, executor, wait);
  }
  PortPoolManager manager(table_, service_, options);
  return take_waiting_unless_stopped(wait, service_, [&](std::chrono::milliseconds timeout) {
    return manager.acquire_listening_for(executor, timeout);
  });
}

DatagramLease RunPorts::acquire_datagram(const Options& options, const boost::asio::any_io_executor& executor,
                                         std::chrono::milliseconds wait) const {
  if (claims_) {
    return acquire_fleet_datagram(options, executor, wait);
  }
  PortPoolManager manager(table_, service_, options);
  return take_waiting_unless_stopped(wait, service_, [&](std::chrono::milliseconds timeout) {
    return manager.acquire_datagram_for(executor, timeout);
  });
}

TcpAndUdpLease RunPorts::acquire_tcp_and_udp(const Options& options, const boost::asio::any_io_executor& executor,
                                             std::chrono::milliseconds wait) const {
  if (claims_) {
    return acquire_fleet_tcp_and_udp(options, executor, wait);
  }
  PortPoolManager manager(table_, service_, options);
  return take_waiting_unless_stopped(wait, service_, [&](std::chrono::milliseconds timeout) {
    return manager.acquire_tcp_and_udp_for(executor, timeout);
  });
}

}  // namespace portpool::cli
