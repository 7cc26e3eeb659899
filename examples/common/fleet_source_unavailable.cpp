// FleetSource in a build without the fleet component (no gRPC found): no etcd options, and the
// fleet scope is refused with what is missing.

#include "fleet_source.hpp"

namespace portpool_example {

class FleetSource::Connection {};

void FleetSource::add_options(CLI::App& /*app*/, portpool::fleet_command_line::EtcdArguments& /*arguments*/) {}

FleetSource::FleetSource(const portpool::fleet_command_line::EtcdArguments& /*arguments*/) {}

FleetSource::~FleetSource() = default;

nlohmann::ordered_json FleetSource::listing() {
  throw ScopeError(
      "scope fleet is not available: this service was built without portpool's fleet component (etcd over "
      "gRPC, option --etcd); rebuild it with gRPC and protobuf installed");
}

// NOLINTNEXTLINE(performance-unnecessary-value-param): by value as in fleet_source.cpp, which moves it
void FleetSource::read_listing(const boost::asio::any_io_executor& /*executor*/, ListingHandler done) {
  try {
    listing();
  } catch (const ScopeError&) {
    done({}, std::current_exception());
  }
}

}  // namespace portpool_example
