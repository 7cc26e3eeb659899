#include "service_copies.hpp"

#include "columns.hpp"
#include "exit_codes.hpp"

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <iostream>
#include <utility>

namespace portpool::cli {
namespace {

constexpr std::string_view notify_variable = "NOTIFY_SOCKET=";
constexpr std::chrono::milliseconds probe_interval{100};

bool connects(const boost::asio::ip::address& address, std::uint16_t port) {
  boost::asio::io_context context;
  boost::asio::ip::tcp::socket socket(context);
  boost::system::error_code error;
  socket.connect({address, port}, error);
  return !error;
}

bool accepts_connections(std::uint16_t port) {
  return connects(boost::asio::ip::address_v4::loopback(), port) ||
         connects(boost::asio::ip::address_v6::loopback(), port);
}

}  // namespace

ServiceCopies::ServiceCopies(Supervisor& supervisor, PortLease& lease, LaunchRequest request, CopySettings settings)
    : supervisor_(supervisor),
      lease_(lease),
      request_(std::move(request)),
      settings_(std::move(settings)),
      ready_timer_(supervisor.context()),
      probe_timer_(supervisor.context()) {
  if (settings_.reload_on_hangup) {
    supervisor_.on_reload([this] { reload(); });
  }
}

LaunchedCommand ServiceCopies::start() {
  auto copy = ++copies_started_;
  if (settings_.before_start) {
    settings_.before_start();
  }
  auto notify = notify_socket(copy);
  auto expected = settings_.notify_expected || settings_.probe_connections;
  set_readiness(expected ? Readiness::starting : Readiness::unknown);  // before CMD can answer
  auto launched = launch(request_for(*notify));
  current_ = copy;
  current_notify_ = std::move(notify);
  if (settings_.probe_connections) {
    probe_connections(copy);
  }
  return launched;
}

std::unique_ptr<NotifySocket> ServiceCopies::notify_socket(unsigned copy) {
  return std::make_unique<NotifySocket>(supervisor_.context(),
                                        [this, copy](const NotifyMessage& message) { on_message(copy, message); });
}

LaunchRequest ServiceCopies::request_for(const NotifySocket& notify) const {
  auto request = request_;
  auto& environment = request.environment;
  environment.erase(std::remove_if(environment.begin(), environment.end(),
                                   [](const std::string& entry) { return entry.rfind(notify_variable, 0) == 0; }),
                    environment.end());
  environment.push_back(std::string(notify_variable) + notify.address());
  return request;
}

void ServiceCopies::on_message(unsigned copy, const NotifyMessage& message) {
  if (copy == candidate_ && message.ready) {
    promote();
    return;
  }
  if (copy != current_) {
    return;  // a copy on its way out
  }
  if (message.stopping) {
    set_readiness(Readiness::stopping);
  } else if (message.ready) {
    set_readiness(Readiness::ready);
  }
}

void ServiceCopies::reload() {
  if (candidate_ != 0) {
    std::cerr << "portpool: SIGHUP ignored: a reload is already under way\n";
    return;
  }
  if (!supervisor_.running()) {
    std::cerr << "portpool: SIGHUP ignored: CMD is between two runs, and the next run starts anew\n";
    return;
  }
  auto copy = ++copies_started_;
  try {
    if (settings_.before_start) {
      settings_.before_start();
    }
    auto notify = notify_socket(copy);
    auto launched = launch(request_for(*notify));
    candidate_ = copy;
    candidate_notify_ = std::move(notify);
    supervisor_.add_candidate(launched, [this](int status) {
      fail_reload(fmt::format("the new copy of CMD exited with status {} before it was ready", status));
    });
    std::cerr << fmt::format(
        "portpool: reloading: started a new copy of CMD (pid {}) on the same socket; the current one serves until it "
        "is ready\n",
        launched.command);
  } catch (const std::exception& error) {
    std::cerr << fmt::format("portpool: reload failed: {}; the current copy keeps serving\n",
                             printable_lines(error.what()));
    return;
  }
  ready_timer_.expires_after(settings_.ready_timeout);
  ready_timer_.async_wait([this, copy](const boost::system::error_code& error) {
    if (!error && candidate_ == copy) {
      fail_reload(fmt::format("the new copy of CMD did not send READY=1 within {} ms (--ready-timeout)",
                              settings_.ready_timeout.count()));
    }
  });
}

void ServiceCopies::promote() {
  ready_timer_.cancel();
  supervisor_.promote_candidate();
  current_ = candidate_;
  candidate_ = 0;
  current_notify_ = std::move(candidate_notify_);  // the replaced copy's socket closes
  set_readiness(Readiness::ready);
  std::cerr << "portpool: reloaded: the new copy of CMD is ready; the old one was asked to stop (SIGTERM)\n";
}

void ServiceCopies::fail_reload(const std::string& why) {
  ready_timer_.cancel();
  supervisor_.drop_candidate();
  candidate_ = 0;
  candidate_notify_.reset();
  std::cerr << fmt::format("portpool: reload failed: {}; it was stopped, the current copy keeps serving\n", why);
}

// --ready accept: CMD is ready once a connection to the port on the loopback, IPv4 or IPv6,
// succeeds (a server on "localhost" may listen on ::1 only). Tried every 100 ms while `copy` is the
// current copy; the connection is closed at once.
void ServiceCopies::probe_connections(unsigned copy) {
  if (copy != current_) {
    return;
  }
  if (accepts_connections(lease_.port())) {
    set_readiness(Readiness::ready);
    return;
  }
  probe_timer_.expires_after(probe_interval);
  probe_timer_.async_wait([this, copy](const boost::system::error_code& error) {
    if (!error) {
      probe_connections(copy);
    }
  });
}

// A record that cannot be rewritten (a full lock directory) costs only the status column.
void ServiceCopies::set_readiness(Readiness readiness) {
  try {
    lease_.set_readiness(readiness);
  } catch (const std::exception& error) {
    std::cerr << fmt::format("portpool: cannot record the readiness '{}': {}\n", to_string(readiness), error.what());
  }
}

}  // namespace portpool::cli
