#include "service_copies.hpp"

#include "exit_codes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <utility>

namespace portpool::cli {
namespace {

constexpr std::string_view notify_variable = "NOTIFY_SOCKET=";

}  // namespace

ServiceCopies::ServiceCopies(Supervisor& supervisor, PortLease& lease, LaunchRequest request, CopySettings settings)
    : supervisor_(supervisor),
      lease_(lease),
      request_(std::move(request)),
      settings_(settings),
      ready_timer_(supervisor.context()) {
  if (settings_.reload_on_hangup) {
    supervisor_.on_reload([this] { reload(); });
  }
}

LaunchedCommand ServiceCopies::start() {
  auto copy = ++copies_started_;
  auto notify = notify_socket(copy);
  set_readiness(settings_.notify_expected ? Readiness::starting : Readiness::unknown);  // before CMD can answer
  auto launched = launch(request_for(*notify));
  current_ = copy;
  current_notify_ = std::move(notify);
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
    std::cerr << fmt::format("portpool: reload failed: {}; the current copy keeps serving\n", error.what());
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

// A record that cannot be rewritten (a full lock directory) costs only the status column.
void ServiceCopies::set_readiness(Readiness readiness) {
  try {
    lease_.set_readiness(readiness);
  } catch (const std::exception& error) {
    std::cerr << fmt::format("portpool: cannot record the readiness '{}': {}\n", to_string(readiness), error.what());
  }
}

}  // namespace portpool::cli
