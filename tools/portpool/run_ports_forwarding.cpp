// The fleet half of RunPorts in `portpool`, which does not link etcd's client: a fleet-wide
// service is run by the fleet component (fleet_component.hpp) with the same command line, before
// anything is taken.

#include "fleet_component.hpp"
#include "run_ports.hpp"

#include <stdexcept>

namespace portpool::cli {

std::shared_ptr<fleet::FleetClaims> RunPorts::open_claims(const FleetRunArguments& /*fleet*/,
                                                          const ClaimsLossHandling& /*loss*/) {
  run_in_fleet_component();
}

PortLease RunPorts::acquire_fleet(const Options& /*options*/, std::chrono::milliseconds /*wait*/) const {
  throw std::logic_error("no fleet claims outside the fleet component");
}

ListeningLease RunPorts::acquire_fleet_listening(const Options& /*options*/,
                                                 const boost::asio::any_io_executor& /*executor*/,
                                                 std::chrono::milliseconds /*wait*/) const {
  throw std::logic_error("no fleet claims outside the fleet component");
}

DatagramLease RunPorts::acquire_fleet_datagram(const Options& /*options*/,
                                               const boost::asio::any_io_executor& /*executor*/,
                                               std::chrono::milliseconds /*wait*/) const {
  throw std::logic_error("no fleet claims outside the fleet component");
}

TcpAndUdpLease RunPorts::acquire_fleet_tcp_and_udp(const Options& /*options*/,
                                                   const boost::asio::any_io_executor& /*executor*/,
                                                   std::chrono::milliseconds /*wait*/) const {
  throw std::logic_error("no fleet claims outside the fleet component");
}

}  // namespace portpool::cli
