#pragma once

// The rules by which a shield decides that its port is lost, over plain facts: what the lock
// directory's path and the lock file's name name now, which sockets listen on the port (TCP) or are
// bound to it (UDP) and who has them open, how long the shield has run. No I/O, no clock, no Asio:
// ShieldState gathers the facts (shield_state.hpp) and the public PortShield words the verdict
// (impl/port_shield.hpp), so that every rule can be tested with made-up facts
// (tests/test_detail_shield_verdict.cpp).

#include <portpool/detail/listener.hpp>

#include <sys/socket.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace portpool::detail {

/// Why a port is lost; PortShield maps it to the public LostReason of the same name.
enum class Loss {
  lock_file_removed,
  lock_file_replaced,
  foreign_listener,
  listener_gone,
  lock_directory_moved,
};

/// Device and inode of a file.
struct FileIdentity {
  dev_t device = 0;
  ino_t inode = 0;
};

/// What a name (the lock file's, the lock directory's path) names now.
struct NameStatus {
  enum class Found {
    file,        ///< a file or directory, whose identity is `identity`
    nothing,     ///< no such name, or no such directory
    unreadable,  ///< the name could not be looked up (permissions changed?): nothing can be said
  };
  Found found = Found::file;
  FileIdentity identity;
};

/// The service's own sockets and processes, as the shield was told when it started.
struct ServiceSockets {
  std::uint64_t acceptor_inode = 0;  ///< the ListeningLease's acceptor; 0 for a plain lease
  std::vector<pid_t> listener_processes;
  std::vector<pid_t> listener_process_trees;
  bool serves_tcp = true;   ///< the port is held for TCP: other programs' listeners on it are losses
  bool serves_udp = false;  ///< the port is held for UDP: other programs' bound UDP sockets on it are losses
};

/// Who had the sockets of the port's listeners open, as far as the shield looked: it looks no
/// further than it needs to tell every listener's owner (see ShieldState::observe).
struct SocketHolders {
  std::unordered_set<std::uint64_t> this_process;                           ///< inodes open in this process
  std::unordered_map<pid_t, std::unordered_set<std::uint64_t>> by_process;  ///< inodes open in other processes
  std::unordered_map<pid_t, std::vector<pid_t>> descendants;                ///< of each tree root that was walked
};

/// One read of the kernel's tables, for one port.
struct PortListeners {
  bool tables_read = true;  ///< false when a table the shield needs could not be read at all (no /proc/net)
  /// on the port, any address, IPv4 and IPv6: TCP listeners and bound UDP sockets
  std::vector<Listener> listeners;
  SocketHolders holders;
};

/// Everything a verdict needs.
struct ShieldFacts {
  FileIdentity locked;  ///< the lock file as it was locked
  NameStatus lock_file;
  FileIdentity opened_directory;  ///< the lock directory as it was opened
  NameStatus lock_directory;      ///< what the lock directory's path names now
  ServiceSockets service;
  bool expect_listener = false;
  std::chrono::milliseconds grace{0};
  std::chrono::nanoseconds since_start{0};
  PortListeners first;  ///< the read shared by the shields of the process
  /// A read taken after the first (and after the scans of descriptors the first one needed),
  /// when the first one suggests a loss: a loss is only reported when both show it.
  std::optional<PortListeners> confirmation;
};

/// What a shield concludes.
struct Verdict {
  std::optional<Loss> loss;         ///< none: the port is not lost (or not yet known to be)
  bool needs_confirmation = false;  ///< judge again with a fresh read in `ShieldFacts::confirmation`
  Listener foreign;                 ///< with foreign_listener: the foreign socket (a listener or a UDP socket)
  FileIdentity found;               ///< with lock_file_replaced, lock_directory_moved: what the name names now
                                    ///< (zero when it names nothing)
  bool tcp_missing = false;         ///< with listener_gone: the service's TCP listener is missing
  bool udp_missing = false;         ///< with listener_gone: the service's bound UDP socket is missing
};

/// The sockets of one read, sorted.
struct ListenerJudgement {
  std::vector<Listener> foreign;  ///< of a transport the port is held for, not known to be the service's own
  bool tcp_listening = false;     ///< the acceptor listens; for a plain lease, any TCP socket of the service
  bool udp_bound = false;         ///< a UDP socket of the service is bound to the port

  /// Whether the service has a socket on the port for each transport it is held for.
  bool service_serving(const ServiceSockets& service) const noexcept {
    return (!service.serves_tcp || tcp_listening) && (!service.serves_udp || udp_bound);
  }
};

/// Whether `inode` is open in the process `process`, according to `holders`.
inline bool held_by(const SocketHolders& holders, pid_t process, std::uint64_t inode) {
  auto found = holders.by_process.find(process);
  return found != holders.by_process.end() && found->second.count(inode) != 0;
}

/// Whether the socket `inode` is the service's: open in this process, in one of its listener
/// processes, in the root of one of its process trees or in a descendant of that root.
inline bool service_socket(const SocketHolders& holders, const ServiceSockets& service, std::uint64_t inode) {
  if (holders.this_process.count(inode) != 0) {
    return true;
  }
  auto holds = [&](pid_t process) { return held_by(holders, process, inode); };
  auto holds_in_tree = [&](pid_t root) {
    auto tree = holders.descendants.find(root);
    return tree != holders.descendants.end() && std::any_of(tree->second.begin(), tree->second.end(), holds);
  };
  const auto& processes = service.listener_processes;
  const auto& roots = service.listener_process_trees;
  return std::any_of(processes.begin(), processes.end(), holds) || std::any_of(roots.begin(), roots.end(), holds) ||
         std::any_of(roots.begin(), roots.end(), holds_in_tree);
}

/// Sorts the sockets of one read. Those of a transport the port is not held for are nobody's
/// concern: a TCP listener on a port held for UDP alone, a UDP socket on a port held for TCP alone.
/// The acceptor of a ListeningLease is known exactly, by inode: another TCP socket of the service does
/// not stand in for it. For a plain lease, any TCP socket of the service does.
inline ListenerJudgement judge_listeners(const PortListeners& read, const ServiceSockets& service) {
  ListenerJudgement judgement;
  for (const auto& listener : read.listeners) {
    bool datagram = listener.type == SOCK_DGRAM;
    if (datagram ? !service.serves_udp : !service.serves_tcp) {
      continue;
    }
    if (!datagram && service.acceptor_inode != 0 && listener.inode == service.acceptor_inode) {
      judgement.tcp_listening = true;
    } else if (service_socket(read.holders, service, listener.inode)) {
      if (datagram) {
        judgement.udp_bound = true;
      } else {
        judgement.tcp_listening = judgement.tcp_listening || service.acceptor_inode == 0;
      }
    } else {
      judgement.foreign.push_back(listener);
    }
  }
  return judgement;
}

/// The verdict on the lock directory alone: its path must still name the directory that was
/// opened, or other processes lock their files in another directory (or none) and cannot see this
/// hold. A path that names nothing, or another inode, is a loss.
inline Verdict lock_directory_verdict(const FileIdentity& opened, const NameStatus& status) {
  Verdict verdict;
  switch (status.found) {
    case NameStatus::Found::nothing:
      verdict.loss = Loss::lock_directory_moved;
      break;
    case NameStatus::Found::unreadable:
      break;  // the next check tries again
    case NameStatus::Found::file:
      if (status.identity.device != opened.device || status.identity.inode != opened.inode) {
        verdict.loss = Loss::lock_directory_moved;
        verdict.found = status.identity;
      }
      break;
  }
  return verdict;
}

/// The verdict on the lock file alone: its name must still name the file that was locked.
inline Verdict lock_file_verdict(const FileIdentity& locked, const NameStatus& status) {
  Verdict verdict;
  switch (status.found) {
    case NameStatus::Found::nothing:
      verdict.loss = Loss::lock_file_removed;
      break;
    case NameStatus::Found::unreadable:
      break;  // the next check tries again
    case NameStatus::Found::file:
      if (status.identity.device != locked.device || status.identity.inode != locked.inode) {
        verdict.loss = Loss::lock_file_replaced;
        verdict.found = status.identity;
      }
      break;
  }
  return verdict;
}

/// The verdict on the names alone: the lock directory first (a deleted directory has lost its lock
/// file too, and says more), then the lock file.
inline Verdict names_verdict(const ShieldFacts& facts) {
  auto verdict = lock_directory_verdict(facts.opened_directory, facts.lock_directory);
  if (verdict.loss) {
    return verdict;
  }
  return lock_file_verdict(facts.locked, facts.lock_file);
}

/// The verdict on `facts`: the names first (lock directory, lock file), then the listeners. A
/// listener loss the first read suggests is only reported when the confirmation shows it too. The
/// confirmation is read after the scans of descriptors the first judgement used, so a listener
/// foreign in both reads (the same socket) was alive and not the service's all along: a socket of
/// the service that closed between the first read and the scans is not mistaken for a foreign one.
inline Verdict shield_verdict(const ShieldFacts& facts) {
  auto verdict = names_verdict(facts);
  if (verdict.loss) {
    return verdict;
  }
  if (!facts.first.tables_read) {
    return verdict;  // nothing to compare with
  }
  auto first = judge_listeners(facts.first, facts.service);
  bool expected = facts.expect_listener && facts.since_start >= facts.grace;
  bool gone = expected && !first.service_serving(facts.service);
  if (first.foreign.empty() && !gone) {
    return verdict;
  }
  if (!facts.confirmation) {
    verdict.needs_confirmation = true;
    return verdict;
  }
  auto second = judge_listeners(*facts.confirmation, facts.service);
  for (const auto& listener : second.foreign) {
    auto seen_before = std::any_of(first.foreign.begin(), first.foreign.end(),
                                   [&](const Listener& earlier) { return earlier.inode == listener.inode; });
    if (seen_before) {
      verdict.loss = Loss::foreign_listener;
      verdict.foreign = listener;
      return verdict;
    }
  }
  if (gone && !second.service_serving(facts.service)) {
    verdict.loss = Loss::listener_gone;
    verdict.tcp_missing = facts.service.serves_tcp && !second.tcp_listening;
    verdict.udp_missing = facts.service.serves_udp && !second.udp_bound;
  }
  return verdict;
}

}  // namespace portpool::detail
