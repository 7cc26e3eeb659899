#pragma once

// The copies of CMD that `portpool run` starts: the first, restarts, and for a reload a second copy
// beside the first on the same listening socket. Tracks what each says over the notify protocol
// and records the service's readiness in the port's holder record, for `portpool status`.

#include "child_launch.hpp"
#include "notify_socket.hpp"
#include "supervisor.hpp"

#include <portpool/port_lease.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace portpool::cli {

struct CopySettings {
  bool notify_expected = false;    ///< --ready notify: "starting" until CMD sends READY=1
  bool probe_connections = false;  ///< --ready accept: "starting" until a connection to the port succeeds
  bool reload_on_hangup = false;   ///< SIGHUP starts a reload instead of being forwarded
  std::chrono::milliseconds ready_timeout{30000};
  std::function<void()> before_start;  ///< called before each copy starts (renders --template files); may throw
};

class ServiceCopies {
 public:
  /// `lease` and `supervisor` must outlive this object.
  ServiceCopies(Supervisor& supervisor, PortLease& lease, LaunchRequest request, CopySettings settings);
  ServiceCopies(const ServiceCopies&) = delete;
  ServiceCopies& operator=(const ServiceCopies&) = delete;
  ServiceCopies(ServiceCopies&&) = delete;
  ServiceCopies& operator=(ServiceCopies&&) = delete;
  ~ServiceCopies() = default;

  /// Starts CMD (the first run or a restart) with a notify socket of its own.
  /// @throws as launch().
  LaunchedCommand start();

 private:
  void reload();
  void on_message(unsigned copy, const NotifyMessage& message);
  void promote();
  void fail_reload(const std::string& why);
  std::unique_ptr<NotifySocket> notify_socket(unsigned copy);
  LaunchRequest request_for(const NotifySocket& notify) const;
  void set_readiness(Readiness readiness);
  void probe_connections(unsigned copy);

  Supervisor& supervisor_;
  PortLease& lease_;
  LaunchRequest request_;
  CopySettings settings_;
  boost::asio::steady_timer ready_timer_;
  boost::asio::steady_timer probe_timer_;
  unsigned copies_started_ = 0;
  unsigned current_ = 0;
  unsigned candidate_ = 0;  ///< 0: no reload in progress
  std::unique_ptr<NotifySocket> current_notify_;
  std::unique_ptr<NotifySocket> candidate_notify_;
};

}  // namespace portpool::cli
