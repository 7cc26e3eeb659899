#include "fleet_source.hpp"

#include <fleet_listing_json.hpp>

#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_error.hpp>
#include <portpool/fleet/fleet_holder.hpp>
#include <portpool/fleet/fleet_view.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <fmt/format.h>

#include <mutex>
#include <string>
#include <utility>

namespace portpool_example {

class FleetSource::Connection {
 public:
  explicit Connection(const portpool::fleet_command_line::EtcdArguments& arguments)
      : prefix_(arguments.prefix), etcd_(portpool::fleet_command_line::etcd_options_of(arguments)) {}

  nlohmann::ordered_json listing() {
    std::lock_guard guard(mutex_);
    try {
      auto snapshot = portpool::fleet::read_fleet(etcd_, prefix_);
      for (const auto& rejected : snapshot.rejected) {
        fmt::print(stderr, "fleet listing: ignored: {}\n", rejected);
      }
      return portpool::fleet_command_line::fleet_snapshot_json(snapshot);
    } catch (const portpool::fleet::EtcdUnavailable& error) {
      throw FleetUnreachable(error.what());
    } catch (const portpool::fleet::EtcdError& error) {
      throw FleetRefused(error.what());
    }
  }

  void read_listing(const boost::asio::any_io_executor& executor, ListingHandler done) {
    boost::asio::post(reader_, [this, work = boost::asio::make_work_guard(executor), done = std::move(done)]() mutable {
      nlohmann::ordered_json result;
      std::exception_ptr error;
      try {
        result = listing();
      } catch (...) {
        error = std::current_exception();
      }
      boost::asio::post(work.get_executor(), [done = std::move(done), result = std::move(result), error]() mutable {
        done(std::move(result), error);
      });
      work.reset();  // last: once the answer is posted, the executor's run() may return
    });
  }

 private:
  std::string prefix_;
  std::mutex mutex_;  // listing() from the caller's thread and from reader_ share one connection
  portpool::fleet::EtcdClient etcd_;
  boost::asio::thread_pool reader_{1};  // destroyed first: joins before the connection goes
};

void FleetSource::add_options(CLI::App& app, portpool::fleet_command_line::EtcdArguments& arguments) {
  portpool::fleet_command_line::add_etcd_options(app, arguments);
  app.get_option("--etcd")->description(
      "etcd client URLs of the fleet registry, comma-separated: enables the fleet scope (every host's holders)");
}

FleetSource::FleetSource(const portpool::fleet_command_line::EtcdArguments& arguments) {
  if (arguments.endpoints.empty()) {
    return;
  }
  portpool::fleet::require_valid_prefix(arguments.prefix);
  portpool::fleet::quiet_transport_log();  // our errors name the endpoint that failed
  connection_ = std::make_unique<Connection>(arguments);
}

FleetSource::~FleetSource() = default;

namespace {

constexpr const char* without_etcd =
    "scope fleet needs the fleet registry's etcd: start this service with --etcd URL[,URL...] "
    "(e.g. --etcd http://127.0.0.1:2379)";

}  // namespace

nlohmann::ordered_json FleetSource::listing() {
  if (!connection_) {
    throw ScopeError(without_etcd);
  }
  return connection_->listing();
}

void FleetSource::read_listing(const boost::asio::any_io_executor& executor, ListingHandler done) {
  if (!connection_) {
    return done({}, std::make_exception_ptr(ScopeError(without_etcd)));
  }
  connection_->read_listing(executor, std::move(done));
}

}  // namespace portpool_example
