// The fleet half of RunPorts, built with the fleet component.

#include "duration.hpp"
#include "exit_codes.hpp"
#include "port_wait.hpp"
#include "run_ports.hpp"

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/fleet_lock_policy.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

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

// etcd counts lease TTLs in whole seconds, so a fraction is rounded up.
std::chrono::seconds claims_ttl(const std::string& text) {
  auto ttl = std::chrono::ceil<std::chrono::seconds>(parse_duration(text, "--fleet-ttl"));
  if (ttl < std::chrono::seconds(2)) {
    throw UsageError(fmt::format("--fleet-ttl {} is too short: give at least 2s (etcd's shortest lease)", text));
  }
  return ttl;
}

std::string seconds_text(std::chrono::milliseconds duration) {
  return fmt::format("{:g}s", static_cast<double>(duration.count()) / 1000.0);
}

// CMD's tree must be gone before the claim can expire: --kill-grace, then SIGKILL, within the margin.
std::chrono::milliseconds claims_stop_margin(const FleetRunArguments& fleet, std::chrono::seconds ttl,
                                             std::chrono::milliseconds kill_grace) {
  const std::chrono::milliseconds longest = ttl - fleet::minimum_renewal_window;
  const auto needed = kill_grace + claims_stop_slack;
  if (fleet.stop_margin.empty()) {
    if (needed > longest) {
      throw UsageError(fmt::format(
          "--kill-grace {} does not fit in the fleet claims' stop margin, at most {} with --fleet-ttl {}: CMD's tree "
          "must be gone {} after the grace, before the claim can expire, and {} of the TTL is kept for renewals; give "
          "a --kill-grace of at most {}, or a --fleet-ttl of at least {}",
          seconds_text(kill_grace), seconds_text(longest), seconds_text(ttl), seconds_text(claims_stop_slack),
          seconds_text(fleet::minimum_renewal_window), seconds_text(longest - claims_stop_slack),
          seconds_text(std::chrono::ceil<std::chrono::seconds>(needed + fleet::minimum_renewal_window))));
    }
    return needed;
  }
  auto margin = parse_duration(fleet.stop_margin, "--fleet-stop-margin");
  if (margin > longest) {
    throw UsageError(fmt::format(
        "--fleet-stop-margin {} leaves less than {} of --fleet-ttl {} for renewals: give a margin of at most {}, or "
        "a longer --fleet-ttl",
        seconds_text(margin), seconds_text(fleet::minimum_renewal_window), seconds_text(ttl), seconds_text(longest)));
  }
  if (needed > margin) {
    throw UsageError(fmt::format(
        "--kill-grace {} does not fit in the fleet claims' stop margin of {} (--fleet-ttl {}): CMD's tree "
        "must be gone {} after the grace, before the claim can expire; give a --kill-grace of at most {}, "
        "or a --fleet-stop-margin of at least {}",
        seconds_text(kill_grace), seconds_text(margin), seconds_text(ttl), seconds_text(claims_stop_slack),
        seconds_text(std::max(margin - claims_stop_slack, std::chrono::milliseconds::zero())), seconds_text(needed)));
  }
  return margin;
}

}  // namespace

std::shared_ptr<fleet::FleetClaims> RunPorts::open_claims(const FleetRunArguments& fleet,
                                                          const ClaimsLossHandling& loss) {
  fleet::quiet_transport_log();  // our messages say what failed, with the endpoint
  fleet::FleetClaimsOptions options;
  options.etcd = fleet_command_line::etcd_options_of(fleet.etcd);
  options.prefix = fleet.etcd.prefix;
  options.host_id = fleet.host_id;
  options.ttl = claims_ttl(fleet.ttl);
  options.stop_margin = claims_stop_margin(fleet, options.ttl, loss.kill_grace);
  options.on_lost = loss.on_lost;
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

DatagramLease RunPorts::acquire_fleet_datagram(const Options& options, const boost::asio::any_io_executor& executor,
                                               std::chrono::milliseconds wait) const {
  auto manager = fleet::make_fleet_pool_manager(table_, service_, options, claims_);
  return mapping_etcd_errors([&] {
    return take_waiting_unless_stopped(wait, service_, [&](std::chrono::milliseconds timeout) {
      return manager.acquire_datagram_for(executor, timeout);
    });
  });
}

TcpAndUdpLease RunPorts::acquire_fleet_tcp_and_udp(const Options& options, const boost::asio::any_io_executor& executor,
                                                   std::chrono::milliseconds wait) const {
  auto manager = fleet::make_fleet_pool_manager(table_, service_, options, claims_);
  return mapping_etcd_errors([&] {
    return take_waiting_unless_stopped(wait, service_, [&](std::chrono::milliseconds timeout) {
      return manager.acquire_tcp_and_udp_for(executor, timeout);
    });
  });
}

}  // namespace portpool::cli
