// The fleet half of RunPorts, built with the fleet component.

#include "exit_codes.hpp"
#include "port_wait.hpp"
#include "run_ports.hpp"

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/fleet_lock_policy.hpp>

#include <iostream>

namespace portpool::cli {
namespace {

// The claim is taken in the manager's acquisition: etcd's failures become the command's exit codes.
template <class Acquisition>
auto mapping_etcd_errors(Acquisition acquisition) {
  try {
    return acquisition();
  } catch (const fleet::EtcdUnavailable& error) {
    throw CommandError(error.what(), exit_code::etcd_unavailable);
  } catch (const fleet::EtcdError& error) {
    throw CommandError(error.what(), exit_code::etcd_refused);
  }
}

}  // namespace

std::shared_ptr<fleet::FleetClaims> RunPorts::open_claims(const FleetRunArguments& fleet) {
  fleet::quiet_transport_log();  // our messages say what failed, with the endpoint
  fleet::FleetClaimsOptions options;
  options.etcd = fleet_command_line::etcd_options_of(fleet.etcd);
  options.prefix = fleet.etcd.prefix;
  options.host_id = fleet.host_id;
  options.on_lost = [](const std::string& problem) {
    std::cerr << "portpool: " << problem << std::endl;  // flushed: written from the claims' thread
  };
  return std::make_shared<fleet::FleetClaims>(std::move(options));
}

PortLease RunPorts::acquire_fleet(const Options& options, std::chrono::milliseconds wait) const {
  auto manager = fleet::make_fleet_pool_manager(table_, service_, options, claims_);
  return mapping_etcd_errors([&] {
    return take_waiting_unless_stopped(wait, service_,
                                       [&](std::chrono::milliseconds timeout) { return manager.acquire_for(timeout); });
  });
}

ListeningLease RunPorts::acquire_fleet_listening(const Options& options, const boost::asio::any_io_executor& executor,
                                                 std::chrono::milliseconds wait) const {
  auto manager = fleet::make_fleet_pool_manager(table_, service_, options, claims_);
  return mapping_etcd_errors([&] {
    return take_waiting_unless_stopped(wait, service_, [&](std::chrono::milliseconds timeout) {
      return manager.acquire_listening_for(executor, timeout);
    });
  });
}

}  // namespace portpool::cli
