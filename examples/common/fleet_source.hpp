#pragma once

// Where a service's listing of holders comes from: this host's lock directory (scope "host", the
// default) or every host's, from the fleet's etcd (scope "fleet", when the service was started
// with --etcd). The fleet listing is the one `portpool status --fleet --json` prints.
//
// Built with the fleet component (fleet_source.cpp) or without it (fleet_source_unavailable.cpp:
// no etcd options, and the fleet scope is refused with a message saying why).

#include <etcd_arguments.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace portpool_example {

enum class HolderScope { host, fleet };

/// A scope the request may not ask for: an unknown value, or fleet from a service without etcd.
class ScopeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The fleet's etcd cannot be reached; the message names the endpoints.
class FleetUnreachable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The fleet's etcd refused the listing (permission denied, authentication failed).
class FleetRefused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// "host" or "fleet". @throws ScopeError for anything else.
HolderScope parse_holder_scope(std::string_view text);

class FleetSource {
 public:
  /// Adds --etcd, --prefix and the TLS and user options to `app`, when this program has the fleet
  /// component.
  static void add_options(CLI::App& app, portpool::fleet_command_line::EtcdArguments& arguments);

  /// Checks the options (no endpoint: the fleet scope is refused); contacts etcd on the first listing.
  /// @throws portpool::ConfigError for an invalid prefix or TLS setting.
  explicit FleetSource(const portpool::fleet_command_line::EtcdArguments& arguments);
  ~FleetSource();
  FleetSource(const FleetSource&) = delete;
  FleetSource& operator=(const FleetSource&) = delete;
  FleetSource(FleetSource&&) = delete;
  FleetSource& operator=(FleetSource&&) = delete;

  /// Every host's holders, sorted by host and port: `{"revision":N,"holders":[...]}`. It waits for
  /// etcd, at most its request timeout.
  /// @throws ScopeError (no --etcd, or no fleet component), FleetUnreachable, FleetRefused.
  nlohmann::ordered_json listing();

  /// The listing, or the exception listing() would throw.
  using ListingHandler = std::function<void(nlohmann::ordered_json listing, std::exception_ptr error)>;

  /// Reads the listing on a thread of its own and calls `done` on `executor`, whose run() does not
  /// return before: the caller's thread never waits for etcd.
  void read_listing(const boost::asio::any_io_executor& executor, ListingHandler done);

 private:
  class Connection;
  std::unique_ptr<Connection> connection_;
};

}  // namespace portpool_example
