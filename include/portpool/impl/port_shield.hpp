#pragma once

// The bodies of PortShield (included at the end of port_shield.hpp): the public side of the
// shield. It turns a lease and ShieldOptions into the plain ShieldTarget that ShieldState watches,
// and ShieldState's report (a detail::Verdict with the facts a message needs) into the public
// ShieldEvent, worded for people.

// Only port_shield.hpp includes this file, at its end, after the declarations it defines.

#include <portpool/detail/shield_verdict.hpp>
#include <portpool/impl/lock_file.hpp>
#include <portpool/impl/shield_state.hpp>
#include <portpool/impl/socket_table.hpp>
#include <portpool/transport.hpp>
#include <portpool/unique_fd.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/asio/ip/tcp.hpp>

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace portpool {

namespace detail {

inline ShieldTarget shield_target(const PortLease& lease, ShieldOptions options) {
  if (!lease.held()) {
    throw ConfigError(
        "PortShield was given a lease that holds no port (released or moved from): shield a lease while it "
        "holds its port");
  }
  const auto& directory = held_lock_of(lease)->directory();
  auto identity = lease.lock_file_identity();
  ShieldTarget target;
  target.port = lease.port();
  target.service = lease.service();
  target.lock_file = lease.lock_file();
  target.directory = std::shared_ptr<const UniqueFd>(directory, &directory->fd);
  target.lock_directory = directory->absolute_path;
  target.opened_directory = FileIdentity{directory->device, directory->inode};
  target.lock_name = held_lock_of(lease)->lock_name();
  target.locked = FileIdentity{identity.device, identity.inode};
  target.sockets = ServiceSockets{0, std::move(options.listener_processes), std::move(options.listener_process_trees),
                                  uses_tcp(lease.transport()), uses_udp(lease.transport())};
  target.interval = options.interval;
  target.grace = options.grace;
  target.expect_listener = options.expect_listener;
  return target;
}

inline ShieldTarget shield_target(const ListeningLease& listening, ShieldOptions options) {
  auto target = shield_target(listening.lease, std::move(options));
  if (!listening.acceptor.is_open()) {
    throw ConfigError(fmt::format(
        "PortShield was given a ListeningLease of port {} whose acceptor is closed: shield it while it listens, or "
        "shield the plain lease",
        target.port));
  }
  auto handle = const_cast<boost::asio::ip::tcp::acceptor&>(listening.acceptor)  // const_cast: reads the handle only
                    .native_handle();
  target.sockets.acceptor_inode = socket_inode_of_fd(handle);
  if (target.sockets.acceptor_inode == 0) {
    throw ConfigError(fmt::format("the acceptor of port {} is not a socket", target.port));
  }
  target.sockets.serves_tcp = true;  // the acceptor is a TCP socket, whatever the lease's transport
  return target;
}

inline LostReason lost_reason(Loss loss) noexcept {
  switch (loss) {
    case Loss::lock_file_removed:
      return LostReason::lock_file_removed;
    case Loss::lock_file_replaced:
      return LostReason::lock_file_replaced;
    case Loss::foreign_listener:
      return LostReason::foreign_listener;
    case Loss::listener_gone:
      return LostReason::listener_gone;
    case Loss::lock_directory_moved:
      return LostReason::lock_directory_moved;
  }
  return LostReason::lock_file_removed;
}

// "port 6001 ('web')".
inline std::string shielded_port(const ShieldTarget& target) {
  return fmt::format("port {} ('{}')", target.port, target.service);
}

// "this process", naming the listener processes too when there are any.
inline std::string service_processes(const ServiceSockets& sockets, const char* conjunction) {
  std::string described = "this process";
  if (!sockets.listener_processes.empty()) {
    described +=
        fmt::format(" {} of its listener process{} (pid {})", conjunction,
                    sockets.listener_processes.size() > 1 ? "es" : "", fmt::join(sockets.listener_processes, ", "));
  }
  if (!sockets.listener_process_trees.empty()) {
    described += fmt::format(" {} of the process tree{} of pid {}", conjunction,
                             sockets.listener_process_trees.size() > 1 ? "s" : "",
                             fmt::join(sockets.listener_process_trees, ", "));
  }
  return described;
}

inline std::string lock_file_removed_message(const ShieldTarget& target) {
  return fmt::format(
      "the lock file {} of {} was deleted by another program: another process can now lock a new file of that name "
      "and take the port. Stop using port {} and acquire a new lease; do not let anything delete files in the lock "
      "directory",
      target.lock_file.string(), shielded_port(target), target.port);
}

inline std::string lock_file_replaced_message(const ShieldTarget& target, const Verdict& verdict) {
  return fmt::format(
      "the lock file {} of {} was replaced by another file (inode {} instead of the locked inode {}): the lock this "
      "process holds no longer guards the port, and another process can take it. Stop using port {} and acquire a "
      "new lease; do not let anything rename or write files in the lock directory",
      target.lock_file.string(), shielded_port(target), verdict.found.inode, target.locked.inode, target.port);
}

inline std::string lock_directory_moved_message(const ShieldTarget& target, const Verdict& verdict) {
  auto now = verdict.found.inode == 0
                 ? std::string("names nothing (the directory was moved away or deleted)")
                 : fmt::format("names another directory or file (inode {} instead of the opened inode {})",
                               verdict.found.inode, target.opened_directory.inode);
  return fmt::format(
      "the lock directory {} of {} was moved, replaced or deleted: its path {}. Other processes that use {} no "
      "longer see this hold and can take the port. Stop using port {} and acquire a new lease; do not move, rename "
      "or delete the lock directory, nor a directory above it, while ports are held",
      target.lock_directory.string(), shielded_port(target), now, target.lock_directory.string(), target.port);
}

inline std::string foreign_listener_message(const ShieldTarget& target, const ShieldReport& report) {
  const auto& owner = report.foreign_owner;
  const auto& foreign = report.verdict.foreign;
  bool datagram = foreign.type == SOCK_DGRAM;
  return fmt::format(
      "another program {} {}: {}{} is not a socket of {}{}. {} port {} may reach it instead of this service; stop "
      "that program or move this service to another port",
      datagram ? "has a UDP socket bound to" : "listens on", shielded_port(target), describe_listener(foreign),
      owner.empty() ? std::string{} : " of " + owner, service_processes(target.sockets, "nor"),
      !datagram && target.sockets.acceptor_inode != 0 ? " nor the lease's acceptor" : "",
      datagram ? "Datagrams sent to" : "Whatever connects to", target.port);
}

inline std::string listener_gone_message(const ShieldTarget& target, const ShieldReport& report) {
  const auto& verdict = report.verdict;
  if (verdict.udp_missing) {
    auto processes = service_processes(target.sockets, "or");
    auto missing = verdict.tcp_missing
                       ? fmt::format("no socket of {} listens on {} for TCP nor is bound to it for UDP", processes,
                                     shielded_port(target))
                       : fmt::format("no UDP socket of {} is bound to {}", processes, shielded_port(target));
    return fmt::format(
        "{}, {} ms after the shield started (grace {} ms). Clients cannot reach the service; start its sockets or "
        "release the port",
        missing, report.waited.count(), target.grace.count());
  }
  if (target.sockets.acceptor_inode != 0) {
    return fmt::format(
        "the service's listener on {} is gone: the lease's acceptor (socket inode {}) no longer listens, {} ms after "
        "the shield started. Clients cannot connect; restart the service's listener or release the port",
        shielded_port(target), target.sockets.acceptor_inode, report.waited.count());
  }
  return fmt::format(
      "no socket of {} listens on {}, {} ms after the shield started (grace {} ms). Clients cannot connect; start the "
      "service's listener or release the port",
      service_processes(target.sockets, "or"), shielded_port(target), report.waited.count(), target.grace.count());
}

// What the user's callback gets for `report`.
inline ShieldEvent shield_event(const ShieldTarget& target, const ShieldReport& report) {
  auto loss = report.verdict.loss.value_or(Loss::lock_file_removed);
  std::string message;
  switch (loss) {
    case Loss::lock_file_removed:
      message = lock_file_removed_message(target);
      break;
    case Loss::lock_file_replaced:
      message = lock_file_replaced_message(target, report.verdict);
      break;
    case Loss::foreign_listener:
      message = foreign_listener_message(target, report);
      break;
    case Loss::listener_gone:
      message = listener_gone_message(target, report);
      break;
    case Loss::lock_directory_moved:
      message = lock_directory_moved_message(target, report.verdict);
      break;
  }
  return ShieldEvent{lost_reason(loss), target.port, target.service, std::move(message)};
}

inline std::shared_ptr<ShieldState> start_shield(const boost::asio::any_io_executor& executor, ShieldTarget target,
                                                 std::function<void(const ShieldEvent&)> on_lost) {
  if (target.interval.count() <= 0) {
    throw ConfigError(fmt::format("the shield interval must be positive (got {} ms)", target.interval.count()));
  }
  if (target.grace.count() < 0) {
    throw ConfigError(fmt::format("the shield grace must not be negative (got {} ms)", target.grace.count()));
  }
  ShieldState::Callback report;
  if (on_lost) {
    report = [on_lost = std::move(on_lost)](const ShieldTarget& watched, const ShieldReport& lost) {
      on_lost(shield_event(watched, lost));
    };
  }
  auto state = std::make_shared<ShieldState>(executor, std::move(target), std::move(report));
  state->start();
  return state;
}

}  // namespace detail

inline PortShield::PortShield(const boost::asio::any_io_executor& executor, const PortLease& lease,
                              std::function<void(const ShieldEvent&)> on_lost, ShieldOptions options)
    : state_(detail::start_shield(executor, detail::shield_target(lease, std::move(options)), std::move(on_lost))) {}

inline PortShield::PortShield(const boost::asio::any_io_executor& executor, const ListeningLease& lease,
                              std::function<void(const ShieldEvent&)> on_lost, ShieldOptions options)
    : state_(detail::start_shield(executor, detail::shield_target(lease, std::move(options)), std::move(on_lost))) {}

// NOLINTNEXTLINE(bugprone-exception-escape): stop() cannot throw (see ShieldState::stop)
inline PortShield& PortShield::operator=(PortShield&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}

inline PortShield::~PortShield() { stop(); }  // NOLINT(bugprone-exception-escape): as stop()

inline void PortShield::stop() noexcept {  // NOLINT(bugprone-exception-escape): ShieldState::stop cannot throw
  if (state_) {
    state_->stop();
  }
}

}  // namespace portpool
