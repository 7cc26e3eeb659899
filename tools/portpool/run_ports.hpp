#pragma once

// Where `portpool run` takes SERVICE's port: a host service's through its lock directory alone
// (PortPoolManager), a fleet-wide service's (`scope = "fleet"`) through an etcd claim taken before
// the local lock and given back after it (fleet::make_fleet_pool_manager), which needs --etcd.

#include <etcd_arguments.hpp>

#include <portpool/datagram_lease.hpp>
#include <portpool/listening_lease.hpp>
#include <portpool/options.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/service_port_table.hpp>
#include <portpool/tcp_and_udp_lease.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace portpool::fleet {
class FleetClaims;
}  // namespace portpool::fleet

namespace portpool::cli {

/// `run`'s options for fleet-wide services.
struct FleetRunArguments {
  fleet_command_line::EtcdArguments etcd;
  std::string host_id;      ///< empty: /etc/machine-id
  std::string ttl = "10s";  ///< the claims' lease TTL
  std::string stop_margin;  ///< empty: --kill-grace plus claims_stop_slack
};

/// --etcd and the other etcd options, --host-id, --fleet-ttl and --fleet-stop-margin.
void add_fleet_run_options(CLI::App& command, FleetRunArguments& arguments);

/// What the fleet claims' stop margin holds beyond --kill-grace: SIGKILL and the end of the tree.
inline constexpr std::chrono::milliseconds claims_stop_slack{500};

/// How `run` bounds, and hears of, the loss of its fleet claims.
struct ClaimsLossHandling {
  /// How long CMD's tree may take to end after SIGTERM: must fit in the claims' stop margin.
  std::chrono::milliseconds kill_grace{5000};
  /// Called on the claims' own thread when the claims count as lost, with what happened.
  std::function<void(const std::string&)> on_lost;
};

class RunPorts {
 public:
  /// For `service` of `table` (a known service).
  /// @throws UsageError for a fleet-wide service without --etcd, or whose --kill-grace does not fit
  /// in the claims' stop margin; CommandError (etcd unavailable) when this portpool has no fleet
  /// component.
  RunPorts(const ServicePortTable& table, std::string service, const FleetRunArguments& fleet,
           const ClaimsLossHandling& loss);

  /// A port of the service's pool for `options.instance`; when the pool is exhausted, waits up to
  /// `wait` for one to be released (port_wait.hpp).
  /// @throws PoolExhausted as the manager; CommandError with exit code 69 when the fleet's etcd
  /// cannot be reached (naming the endpoints), 76 when it refuses, 128 + a signal that ended the wait.
  PortLease acquire(const Options& options, std::chrono::milliseconds wait) const;
  /// The same with the sockets of `options.transport` bound to the port: listening for a tcp
  /// service, a datagram socket for udp, both for both (each acquisition refuses another transport
  /// with ConfigError).
  ListeningLease acquire_listening(const Options& options, const boost::asio::any_io_executor& executor,
                                   std::chrono::milliseconds wait) const;
  DatagramLease acquire_datagram(const Options& options, const boost::asio::any_io_executor& executor,
                                 std::chrono::milliseconds wait) const;
  TcpAndUdpLease acquire_tcp_and_udp(const Options& options, const boost::asio::any_io_executor& executor,
                                     std::chrono::milliseconds wait) const;

 private:
  static std::shared_ptr<fleet::FleetClaims> open_claims(const FleetRunArguments& fleet,
                                                         const ClaimsLossHandling& loss);
  PortLease acquire_fleet(const Options& options, std::chrono::milliseconds wait) const;
  ListeningLease acquire_fleet_listening(const Options& options, const boost::asio::any_io_executor& executor,
                                         std::chrono::milliseconds wait) const;
  DatagramLease acquire_fleet_datagram(const Options& options, const boost::asio::any_io_executor& executor,
                                       std::chrono::milliseconds wait) const;
  TcpAndUdpLease acquire_fleet_tcp_and_udp(const Options& options, const boost::asio::any_io_executor& executor,
                                           std::chrono::milliseconds wait) const;

  const ServicePortTable& table_;
  std::string service_;
  std::shared_ptr<fleet::FleetClaims> claims_;  ///< null for a host service
};

}  // namespace portpool::cli
