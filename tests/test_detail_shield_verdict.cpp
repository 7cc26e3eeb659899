// The shield's verdict rules (detail/shield_verdict.hpp) over made-up facts: one table, one named
// row per rule. No sockets, files or processes: tests/test_port_shield.cpp causes each reason for
// real, end to end.

#include <portpool/detail/shield_verdict.hpp>
#include <portpool/ip_address.hpp>

#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace portpool::detail;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t port = 6001;
constexpr FileIdentity locked{8, 100};
constexpr FileIdentity opened_directory{8, 50};
constexpr std::uint64_t acceptor = 500;
constexpr pid_t server = 4000;    // a listener process
constexpr pid_t launcher = 4100;  // the root of a process tree
constexpr pid_t worker = 4102;    // a descendant of `launcher`
constexpr pid_t stranger = 4200;  // nobody the shield was told about

Listener listener(std::uint64_t inode, const char* address) {
  auto parsed = portpool::IpAddress::from_string(address);
  return Listener{inode, ListenerAddress{parsed.is_v6(), parsed.v6_bytes()}, port};
}

/// A UDP socket bound to `address`:port.
Listener udp_socket(std::uint64_t inode, const char* address) {
  auto socket = listener(inode, address);
  socket.type = SOCK_DGRAM;
  return socket;
}

/// Who has which socket open, in one read.
class Holders {
 public:
  Holders& here(std::initializer_list<std::uint64_t> inodes) {
    holders_.this_process.insert(inodes);
    return *this;
  }
  Holders& in(pid_t process, std::initializer_list<std::uint64_t> inodes) {
    holders_.by_process[process].insert(inodes);
    return *this;
  }
  Holders& tree(pid_t root, std::vector<pid_t> descendants) {
    holders_.descendants[root] = std::move(descendants);
    return *this;
  }
  operator SocketHolders() const { return holders_; }  // implicit: rows read better

 private:
  SocketHolders holders_;
};

/// The facts of one row: by default a plain lease whose lock file is intact, with nobody listening.
class Facts {
 public:
  Facts() {
    facts_.locked = locked;
    facts_.lock_file = NameStatus{NameStatus::Found::file, locked};
    facts_.opened_directory = opened_directory;
    facts_.lock_directory = NameStatus{NameStatus::Found::file, opened_directory};
  }
  Facts& lock_directory(NameStatus::Found found, FileIdentity identity = {}) {
    facts_.lock_directory = NameStatus{found, identity};
    return *this;
  }
  Facts& lock_file(NameStatus::Found found, FileIdentity identity = {}) {
    facts_.lock_file = NameStatus{found, identity};
    return *this;
  }
  /// The port held for UDP alone (a `udp` lease).
  Facts& udp() {
    facts_.service.serves_tcp = false;
    facts_.service.serves_udp = true;
    return *this;
  }
  /// The port held for TCP and UDP (a `both` lease).
  Facts& tcp_and_udp() {
    facts_.service.serves_tcp = true;
    facts_.service.serves_udp = true;
    return *this;
  }
  Facts& with_acceptor() {
    facts_.service.acceptor_inode = acceptor;
    return *this;
  }
  Facts& listener_processes(std::vector<pid_t> processes) {
    facts_.service.listener_processes = std::move(processes);
    return *this;
  }
  Facts& listener_process_trees(std::vector<pid_t> roots) {
    facts_.service.listener_process_trees = std::move(roots);
    return *this;
  }
  /// expect_listener, with the grace period and the time since the shield started.
  Facts& expecting(std::chrono::milliseconds grace, std::chrono::milliseconds since_start) {
    facts_.expect_listener = true;
    facts_.grace = grace;
    facts_.since_start = since_start;
    return *this;
  }
  /// The shared read only: a loss it suggests still needs a confirmation.
  Facts& first(std::vector<Listener> listeners, SocketHolders holders = {}) {
    facts_.first = PortListeners{true, std::move(listeners), std::move(holders)};
    return *this;
  }
  Facts& confirmation(std::vector<Listener> listeners, SocketHolders holders = {}) {
    facts_.confirmation = PortListeners{true, std::move(listeners), std::move(holders)};
    return *this;
  }
  /// Two reads that show the same.
  Facts& both(const std::vector<Listener>& listeners, const SocketHolders& holders = {}) {
    return first(listeners, holders).confirmation(listeners, holders);
  }
  Facts& tables_unreadable() {
    facts_.first.tables_read = false;
    return *this;
  }
  operator ShieldFacts() const { return facts_; }  // implicit: rows read better

 private:
  ShieldFacts facts_;
};

/// What a row expects.
struct Expected {
  std::optional<Loss> loss;
  bool needs_confirmation = false;
  std::uint64_t foreign_inode = 0;
  ino_t found_inode = 0;
  int foreign_type = SOCK_STREAM;
  bool tcp_missing = false;
  bool udp_missing = false;
};

const Expected nothing_lost{};
const Expected confirm_first{std::nullopt, true};

Expected lost(Loss loss) { return Expected{loss}; }
Expected foreign(std::uint64_t inode) { return Expected{Loss::foreign_listener, false, inode}; }
Expected foreign_udp(std::uint64_t inode) { return Expected{Loss::foreign_listener, false, inode, 0, SOCK_DGRAM}; }
/// listener_gone, with the service's TCP listener, its UDP socket, or both missing.
Expected gone(bool tcp_missing, bool udp_missing) noexcept {
  return Expected{Loss::listener_gone, false, 0, 0, SOCK_STREAM, tcp_missing, udp_missing};
}
const Expected tcp_gone = gone(true, false);
Expected replaced_by(ino_t inode) { return Expected{Loss::lock_file_replaced, false, 0, inode}; }
Expected directory_replaced_by(ino_t inode) { return Expected{Loss::lock_directory_moved, false, 0, inode}; }

struct Row {
  const char* name;
  ShieldFacts facts;
  Expected expected;
};

const std::vector<Row>& rows() {
  using Found = NameStatus::Found;
  static const std::vector<Row> table{
      // The lock file.
      {"an intact lock file and nobody listening -> nothing lost", Facts(), nothing_lost},
      {"the lock file's name names nothing -> lock_file_removed", Facts().lock_file(Found::nothing),
       lost(Loss::lock_file_removed)},
      {"the name names another inode -> lock_file_replaced", Facts().lock_file(Found::file, {8, 101}),
       replaced_by(101)},
      {"the name names the same inode on another device -> lock_file_replaced",
       Facts().lock_file(Found::file, {9, 100}), replaced_by(100)},
      {"the name cannot be looked up -> nothing can be said yet", Facts().lock_file(Found::unreadable), nothing_lost},
      {"a removed lock file is reported before a foreign listener",
       Facts().lock_file(Found::nothing).both({listener(7, "127.0.0.1")}), lost(Loss::lock_file_removed)},

      // The lock directory's path.
      {"the lock directory's path names nothing -> lock_directory_moved", Facts().lock_directory(Found::nothing),
       directory_replaced_by(0)},
      {"the path names another directory -> lock_directory_moved", Facts().lock_directory(Found::file, {8, 51}),
       directory_replaced_by(51)},
      {"the path names the same inode on another device -> lock_directory_moved",
       Facts().lock_directory(Found::file, {9, 50}), directory_replaced_by(50)},
      {"the path cannot be looked up -> nothing can be said yet", Facts().lock_directory(Found::unreadable),
       nothing_lost},
      {"a directory gone with its lock file is reported as the directory's loss",
       Facts().lock_directory(Found::nothing).lock_file(Found::nothing), directory_replaced_by(0)},
      {"a moved directory is reported before a foreign listener",
       Facts().lock_directory(Found::file, {8, 51}).both({listener(7, "127.0.0.1")}), directory_replaced_by(51)},

      // Foreign listeners, on any address of either family.
      {"a foreign listener in the shared read alone asks for a confirmation", Facts().first({listener(7, "127.0.0.1")}),
       confirm_first},
      {"a foreign listener on 127.0.0.1 in both reads -> foreign_listener", Facts().both({listener(7, "127.0.0.1")}),
       foreign(7)},
      {"a foreign listener on the IPv4 wildcard -> foreign_listener", Facts().both({listener(7, "0.0.0.0")}),
       foreign(7)},
      {"a foreign listener on another loopback address beside our own socket -> foreign_listener",
       Facts().both({listener(6, "127.0.0.1"), listener(7, "127.0.0.2")}, Holders().here({6})), foreign(7)},
      {"a foreign listener on ::1 -> foreign_listener", Facts().both({listener(7, "::1")}), foreign(7)},
      {"a foreign listener on the IPv6 wildcard beside the acceptor -> foreign_listener",
       Facts().with_acceptor().both({listener(acceptor, "127.0.0.1"), listener(7, "::")}), foreign(7)},
      {"a foreign listener gone by the confirmation is not reported",
       Facts().first({listener(7, "127.0.0.1")}).confirmation({}), nothing_lost},
      {"a different foreign socket in each read is not reported",
       Facts().first({listener(7, "127.0.0.1")}).confirmation({listener(8, "127.0.0.1")}), nothing_lost},
      {"a socket that the confirmation finds open in this process is not reported",
       Facts().first({listener(7, "127.0.0.1")}).confirmation({listener(7, "127.0.0.1")}, Holders().here({7})),
       nothing_lost},

      // Whose sockets are the service's own.
      {"the acceptor, known by its inode, is ours", Facts().with_acceptor().both({listener(acceptor, "127.0.0.1")}),
       nothing_lost},
      {"a socket open in this process is ours", Facts().first({listener(7, "::1")}, Holders().here({7})), nothing_lost},
      {"a socket open in a listener process is ours",
       Facts().listener_processes({server}).first({listener(7, "0.0.0.0")}, Holders().in(server, {7})), nothing_lost},
      {"a socket open in the root of a process tree is ours",
       Facts().listener_process_trees({launcher}).first({listener(7, "0.0.0.0")}, Holders().in(launcher, {7})),
       nothing_lost},
      {"a socket open in a descendant of a process tree's root is ours",
       Facts()
           .listener_process_trees({launcher})
           .first({listener(7, "::")}, Holders().tree(launcher, {4101, worker}).in(worker, {7})),
       nothing_lost},
      {"a socket of a process the shield was not told about is foreign",
       Facts().listener_processes({server}).both({listener(7, "127.0.0.1")}, Holders().in(stranger, {7})), foreign(7)},
      {"a socket of a descendant of another tree than the service's is foreign",
       Facts()
           .listener_process_trees({launcher})
           .both({listener(7, "127.0.0.1")}, Holders().tree(stranger, {worker}).in(worker, {7})),
       foreign(7)},
      {"a third listener beside a listener process's is foreign",
       Facts().listener_processes({server}).both({listener(6, "127.0.0.1"), listener(7, "127.0.0.2")},
                                                 Holders().in(server, {6})),
       foreign(7)},

      // The service's own listener, with expect_listener.
      {"expected but absent within the grace period -> nothing lost", Facts().expecting(300ms, 299ms), nothing_lost},
      {"expected and absent once the grace period has passed, in the shared read alone -> confirm",
       Facts().expecting(300ms, 300ms), confirm_first},
      {"expected and absent in both reads after the grace period -> listener_gone",
       Facts().expecting(300ms, 301ms).both({}), tcp_gone},
      {"expected, absent in the shared read, listening in the confirmation -> nothing lost",
       Facts().expecting(0ms, 1ms).first({}).confirmation({listener(7, "127.0.0.1")}, Holders().here({7})),
       nothing_lost},
      {"nobody listening, not expected -> nothing lost", Facts().both({}), nothing_lost},
      {"expected, the acceptor listens -> nothing lost",
       Facts().with_acceptor().expecting(0ms, 1ms).both({listener(acceptor, "::1")}), nothing_lost},
      {"expected, another socket of this process does not stand in for the acceptor -> listener_gone",
       Facts().with_acceptor().expecting(0ms, 1ms).both({listener(7, "127.0.0.1")}, Holders().here({7})), tcp_gone},
      {"expected, a plain lease's listener process listens -> nothing lost",
       Facts().listener_processes({server}).expecting(0ms, 1ms).both({listener(7, "127.0.0.1")},
                                                                     Holders().in(server, {7})),
       nothing_lost},
      {"expected, a plain lease's tree descendant listens -> nothing lost",
       Facts()
           .listener_process_trees({launcher})
           .expecting(0ms, 1ms)
           .both({listener(7, "127.0.0.1")}, Holders().tree(launcher, {worker}).in(worker, {7})),
       nothing_lost},
      {"a foreign listener is reported rather than the absent listener",
       Facts().expecting(0ms, 1ms).both({listener(7, "127.0.0.1")}), foreign(7)},
      {"no socket table could be read -> no listener verdict", Facts().expecting(0ms, 1ms).tables_unreadable(),
       nothing_lost},

      // UDP: a bound UDP socket of another program on a port held for UDP, as a foreign listener on one held for
      // TCP; whose socket is ours is decided the same way.
      {"a foreign UDP socket in the shared read alone asks for a confirmation",
       Facts().udp().first({udp_socket(7, "127.0.0.1")}), confirm_first},
      {"a foreign UDP socket on 127.0.0.1 in both reads -> foreign_listener",
       Facts().udp().both({udp_socket(7, "127.0.0.1")}), foreign_udp(7)},
      {"a foreign UDP socket on the IPv4 wildcard -> foreign_listener", Facts().udp().both({udp_socket(7, "0.0.0.0")}),
       foreign_udp(7)},
      {"a foreign UDP socket on ::1 -> foreign_listener", Facts().udp().both({udp_socket(7, "::1")}), foreign_udp(7)},
      {"a foreign UDP socket on the IPv6 wildcard beside our own -> foreign_listener",
       Facts().udp().both({udp_socket(6, "127.0.0.1"), udp_socket(7, "::")}, Holders().here({6})), foreign_udp(7)},
      {"a UDP socket open in this process is ours", Facts().udp().first({udp_socket(7, "::")}, Holders().here({7})),
       nothing_lost},
      {"a UDP socket open in a listener process is ours",
       Facts().udp().listener_processes({server}).first({udp_socket(7, "0.0.0.0")}, Holders().in(server, {7})),
       nothing_lost},
      {"a UDP socket open in a descendant of a process tree's root is ours",
       Facts()
           .udp()
           .listener_process_trees({launcher})
           .first({udp_socket(7, "::")}, Holders().tree(launcher, {worker}).in(worker, {7})),
       nothing_lost},
      {"a UDP socket of a process the shield was not told about is foreign",
       Facts().udp().listener_processes({server}).both({udp_socket(7, "::1")}, Holders().in(stranger, {7})),
       foreign_udp(7)},
      {"a UDP socket of another program on a port held for TCP alone -> nothing lost",
       Facts().both({udp_socket(7, "127.0.0.1")}), nothing_lost},
      {"a listener of another program on a port held for UDP alone -> nothing lost",
       Facts().udp().both({listener(7, "127.0.0.1")}), nothing_lost},
      {"a port held for both: a foreign listener -> foreign_listener",
       Facts().tcp_and_udp().both({listener(7, "127.0.0.1")}), foreign(7)},
      {"a port held for both: a foreign UDP socket -> foreign_listener",
       Facts().tcp_and_udp().both({udp_socket(7, "::")}), foreign_udp(7)},
      {"a port held for both: a foreign UDP socket beside the acceptor -> foreign_listener",
       Facts().tcp_and_udp().with_acceptor().both({listener(acceptor, "127.0.0.1"), udp_socket(7, "127.0.0.1")}),
       foreign_udp(7)},
      {"a UDP socket open in this process is not the acceptor's stand-in nor its rival",
       Facts().tcp_and_udp().with_acceptor().expecting(0ms, 1ms).both(
           {listener(acceptor, "127.0.0.1"), udp_socket(7, "127.0.0.1")}, Holders().here({7})),
       nothing_lost},

      // The service's own socket for UDP, with expect_listener.
      {"udp, expected, our UDP socket is bound -> nothing lost",
       Facts().udp().expecting(0ms, 1ms).both({udp_socket(7, "::")}, Holders().here({7})), nothing_lost},
      {"udp, expected and absent in both reads -> listener_gone, the UDP socket missing",
       Facts().udp().expecting(0ms, 1ms).both({}), gone(false, true)},
      {"udp, expected, only our TCP listener -> listener_gone, the UDP socket missing",
       Facts().udp().expecting(0ms, 1ms).both({listener(7, "127.0.0.1")}, Holders().here({7})), gone(false, true)},
      {"udp, expected, within the grace period -> nothing lost", Facts().udp().expecting(300ms, 1ms).both({}),
       nothing_lost},
      {"both, expected, our listener and our UDP socket -> nothing lost",
       Facts().tcp_and_udp().expecting(0ms, 1ms).both({listener(6, "127.0.0.1"), udp_socket(7, "127.0.0.1")},
                                                      Holders().here({6, 7})),
       nothing_lost},
      {"both, expected, our listener alone -> listener_gone, the UDP socket missing",
       Facts().tcp_and_udp().expecting(0ms, 1ms).both({listener(6, "127.0.0.1")}, Holders().here({6})),
       gone(false, true)},
      {"both, expected, our UDP socket alone -> listener_gone, the TCP listener missing",
       Facts().tcp_and_udp().expecting(0ms, 1ms).both({udp_socket(7, "127.0.0.1")}, Holders().here({7})),
       gone(true, false)},
      {"both, expected, neither -> listener_gone, both missing", Facts().tcp_and_udp().expecting(0ms, 1ms).both({}),
       gone(true, true)},
      {"both, expected, the acceptor listens and our UDP socket is bound in a listener process -> nothing lost",
       Facts().tcp_and_udp().with_acceptor().listener_processes({server}).expecting(0ms, 1ms).both(
           {listener(acceptor, "::1"), udp_socket(7, "::1")}, Holders().in(server, {7})),
       nothing_lost},
  };
  return table;
}

}  // namespace

TEST_CASE("the shield's verdict on made-up facts, rule by rule") {
  for (const auto& row : rows()) {
    DYNAMIC_SECTION(row.name) {
      auto verdict = shield_verdict(row.facts);
      CHECK(verdict.loss == row.expected.loss);
      CHECK(verdict.needs_confirmation == row.expected.needs_confirmation);
      if (row.expected.loss == Loss::foreign_listener) {
        CHECK(verdict.foreign.inode == row.expected.foreign_inode);
        CHECK(verdict.foreign.port == port);
        CHECK(verdict.foreign.type == row.expected.foreign_type);
      }
      if (row.expected.loss == Loss::listener_gone) {
        CHECK(verdict.tcp_missing == row.expected.tcp_missing);
        CHECK(verdict.udp_missing == row.expected.udp_missing);
      }
      if (row.expected.loss == Loss::lock_file_replaced || row.expected.loss == Loss::lock_directory_moved) {
        CHECK(verdict.found.inode == row.expected.found_inode);
      }
    }
  }
}
