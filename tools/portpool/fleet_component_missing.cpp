// run_in_fleet_component() in a portpool built without the fleet component (no gRPC found): the
// options parse as usual, and running what needs etcd says what is missing.

#include "exit_codes.hpp"
#include "fleet_component.hpp"

namespace portpool::cli {

void run_in_fleet_component() {
  throw CommandError(
      "this portpool was built without the fleet component (etcd over gRPC), which this command needs: rebuild it "
      "with gRPC and protobuf installed (Debian: libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc)",
      exit_code::etcd_unavailable);
}

}  // namespace portpool::cli
