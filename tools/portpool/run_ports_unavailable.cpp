// The fleet half of RunPorts in a portpool built without the fleet component: a fleet-wide service
// cannot be run, and says what is missing.

#include "exit_codes.hpp"
#include "run_ports.hpp"

#include <stdexcept>

namespace portpool::cli {

std::shared_ptr<fleet::FleetClaims> RunPorts::open_claims(const FleetRunArguments& /*fleet*/,
                                                          const ClaimsLossHandling& /*loss*/) {
  throw CommandError(
      "this portpool was built without the fleet component (etcd over gRPC), which a fleet-wide service "
      "(scope = \"fleet\") needs: rebuild it with gRPC and protobuf installed (Debian: libgrpc++-dev "
      "libprotobuf-dev protobuf-compiler-grpc)",
      exit_code::etcd_unavailable);
}

PortLease RunPorts::acquire_fleet(const Options& /*options*/, std::chrono::milliseconds /*wait*/) const {
  throw std::logic_error("no fleet claims without the fleet component");
}

ListeningLease RunPorts::acquire_fleet_listening(const Options& /*options*/,
                                                 const boost::asio::any_io_executor& /*executor*/,
                                                 std::chrono::milliseconds /*wait*/) const {
  throw std::logic_error("no fleet claims without the fleet component");
}

DatagramLease RunPorts::acquire_fleet_datagram(const Options& /*options*/,
                                               const boost::asio::any_io_executor& /*executor*/,
                                               std::chrono::milliseconds /*wait*/) const {
  throw std::logic_error("no fleet claims without the fleet component");
}

TcpAndUdpLease RunPorts::acquire_fleet_tcp_and_udp(const Options& /*options*/,
                                                   const boost::asio::any_io_executor& /*executor*/,
                                                   std::chrono::milliseconds /*wait*/) const {
  throw std::logic_error("no fleet claims without the fleet component");
}

}  // namespace portpool::cli
