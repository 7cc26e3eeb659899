// Fault rounds in the Jepsen manner against a real etcd: one fleet-wide service with one port, three
// simulated hosts (own lock directory, own --host-id, own link to etcd through a TCP proxy the test
// controls), each running `portpool run` of the service again and again. While they compete, randomised
// rounds inject one fault each: etcd paused past the TTL, etcd killed and restarted with its data, the
// current claimant's `portpool run` SIGKILLed while its tree ignores SIGTERM, the link between one host and
// etcd refused or blackholed and then restored (and, behind a switch, etcd restarted without its data).
//
// CMD (rounds_command.cpp) appends its start, and any SIGTERM it receives, to a history log with its
// CLOCK_MONOTONIC time; the test appends the moment each CMD is seen gone (the close of a Unix socket CMD
// holds, however it ends) and each fault. The checker then reads the history: for the one port no two
// hosts' [start, gone] intervals overlap, and every holder was told why it stopped (`portpool run` said the
// port was lost and exited 69), or ended by the test's own hand (SIGKILL of a claimant, the final stop).
// The figures (rounds, faults by kind, closest gap, stop windows) are printed; only the guarantee is
// asserted. The seed is printed; PORTPOOL_FLEET_ROUNDS_SEED=N replays the fault schedule of seed N.
//
// The same hosts and checker then run against a three-member etcd cluster, each host knowing every
// member: the leader killed and restarted with its data, the leader paused past the TTL (the others
// elect another meanwhile), two members killed past the TTL (no quorum: no lease can be renewed),
// and the claimant killed.

#include "fleet_test.hpp"
#include "http_client.hpp"

#include <portpool/unique_fd.hpp>

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace portpool::test;
using namespace std::chrono_literals;
using portpool::UniqueFd;

namespace {

// Rounds in which etcd is restarted WITHOUT its data. Without the epoch marker (a claimant on a new or
// wiped cluster waits one TTL plus the margin before its claim counts) a claimant could win on the empty
// store while the old holder ran until its deadline: these rounds showed it (0.5 s overlaps).
constexpr bool etcd_data_loss_rounds_enabled = true;

constexpr int default_round_count = 50;
constexpr auto fleet_ttl = 2s;
constexpr std::array<const char*, 4> fencing_options{"--fleet-ttl", "2s", "--kill-grace", "300ms"};
constexpr std::array<const char*, 3> host_ids{"host-a", "host-b", "host-c"};

long long monotonic_nanoseconds() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000000000LL + now.tv_nsec;
}

double seconds(long long nanoseconds) { return static_cast<double>(nanoseconds) / 1e9; }

std::chrono::milliseconds between(std::mt19937_64& random, int low_ms, int high_ms) {
  return std::chrono::milliseconds(std::uniform_int_distribution<int>(low_ms, high_ms)(random));
}

std::optional<std::uint64_t> number_from_environment(const char* name) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') {
    return std::nullopt;
  }
  return std::stoull(text);
}

void make_nonblocking(int descriptor) { ::fcntl(descriptor, F_SETFL, ::fcntl(descriptor, F_GETFL) | O_NONBLOCK); }

// Closes with a reset (RST) rather than an orderly end: how a refused or cut connection looks to gRPC.
void reset(UniqueFd& socket) {
  linger abort{1, 0};
  ::setsockopt(socket.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  socket.reset();
}

/// The shared history log: lines written whole with O_APPEND, by CMDs and by the test.
class History {
 public:
  explicit History(std::filesystem::path path)
      : path_(std::move(path)), file_(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) {
    if (!file_) {
      throw std::runtime_error("cannot open the history log " + path_.string());
    }
  }

  void append(const std::string& line) const {
    auto text = line + "\n";
    if (::write(file_.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      throw std::runtime_error("cannot append to the history log");
    }
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  UniqueFd file_;
};

/// A thread around a poll loop that another thread wakes (an eventfd) to change its state or stop it.
class PollThread {
 public:
  PollThread() : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  PollThread(const PollThread&) = delete;
  PollThread& operator=(const PollThread&) = delete;
  PollThread(PollThread&&) = delete;
  PollThread& operator=(PollThread&&) = delete;
  virtual ~PollThread() = default;

 protected:
  template <class Body>
  void start(Body body) {
    thread_ = std::thread(body);
  }
  void wake() const {
    std::uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(wake_.get(), &one, sizeof one);
  }
  void drain_wake() const {
    std::uint64_t count = 0;
    [[maybe_unused]] auto read = ::read(wake_.get(), &count, sizeof count);
  }
  int wake_descriptor() const { return wake_.get(); }
  void stop() {
    stopping_ = true;
    wake();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  bool stopping() const { return stopping_; }

 private:
  UniqueFd wake_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

enum class LinkState { open, refused, blackholed };

/// A TCP proxy on a free loopback port in front of etcd's client port: one host's link to etcd. Open, it
/// relays bytes both ways. Refused, it resets every connection it has and each new one at once (as a
/// firewall's REJECT). Blackholed, it relays nothing and answers nothing, on old and new connections (as a
/// dropped route); opened again, the held connections go on with what was buffered, as after a healed
/// partition.
class LinkProxy : private PollThread {
 public:
  explicit LinkProxy(std::uint16_t etcd_port)
      : etcd_port_(etcd_port), listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
    if (!listener_ || !bind_loopback(listener_.get(), 0) || ::listen(listener_.get(), 64) != 0) {
      throw std::runtime_error("cannot listen for the link proxy");
    }
    port_ = bound_port(listener_.get());
    start([this] { relay(); });
  }
  LinkProxy(const LinkProxy&) = delete;
  LinkProxy& operator=(const LinkProxy&) = delete;
  LinkProxy(LinkProxy&&) = delete;
  LinkProxy& operator=(LinkProxy&&) = delete;
  ~LinkProxy() override { stop(); }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void set(LinkState state) {
    state_ = state;
    wake();
  }

 private:
  struct Connection {
    UniqueFd client;
    UniqueFd etcd;  // none while blackholed since its accept
    std::string to_etcd;
    std::string to_client;
  };

  bool connect_to_etcd(Connection& connection) const {
    UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto address = loopback(etcd_port_);
    if (!socket || ::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      return false;
    }
    make_nonblocking(socket.get());
    connection.etcd = std::move(socket);
    return true;
  }

  // Moves bytes from `from` to `to` through `buffer`; false when either side ended.
  static bool pump(int from, int to, std::string& buffer, bool readable) {
    if (readable && buffer.empty()) {
      char chunk[65536];
      auto count = ::read(from, chunk, sizeof chunk);
      if (count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR)) {
        return false;
      }
      if (count > 0) {
        buffer.assign(chunk, static_cast<std::size_t>(count));
      }
    }
    if (!buffer.empty()) {
      auto count = ::send(to, buffer.data(), buffer.size(), MSG_NOSIGNAL);
      if (count < 0 && errno != EAGAIN && errno != EINTR) {
        return false;
      }
      if (count > 0) {
        buffer.erase(0, static_cast<std::size_t>(count));
      }
    }
    return true;
  }

  void relay() {
    std::list<Connection> connections;
    auto applied = LinkState::open;
    while (!stopping()) {
      auto state = state_.load();
      if (state != applied) {
        if (state == LinkState::refused) {
          for (auto& connection : connections) {
            reset(connection.client);
          }
          connections.clear();
        } else if (state == LinkState::open) {
          connections.remove_if([this](Connection& held) { return !held.etcd && !connect_to_etcd(held); });
        }
        applied = state;
      }
      std::vector<pollfd> watched{{wake_descriptor(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      if (applied == LinkState::open) {
        for (auto& connection : connections) {
          auto events = [](const std::string& incoming, const std::string& outgoing) {
            return static_cast<short>((incoming.empty() ? POLLIN : 0) | (outgoing.empty() ? 0 : POLLOUT));
          };
          watched.push_back({connection.client.get(), events(connection.to_etcd, connection.to_client), 0});
          watched.push_back({connection.etcd.get(), events(connection.to_client, connection.to_etcd), 0});
        }
      }
      if (::poll(watched.data(), watched.size(), -1) < 0) {
        continue;
      }
      if (watched[0].revents != 0) {
        drain_wake();
      }
      if (watched[1].revents != 0) {
        accept_all(connections, applied);
      }
      if (applied != LinkState::open) {
        continue;
      }
      std::size_t index = 2;
      for (auto connection = connections.begin(); connection != connections.end() && index < watched.size();) {
        auto client_events = watched[index].revents;
        auto etcd_events = watched[index + 1].revents;
        index += 2;
        bool client_readable = client_events != 0;
        bool etcd_readable = etcd_events != 0;
        // A side that hung up or failed ends the connection (bytes still buffered for it are dropped).
        if (((client_events | etcd_events) & (POLLHUP | POLLERR)) == 0 &&
            pump(connection->client.get(), connection->etcd.get(), connection->to_etcd, client_readable) &&
            pump(connection->etcd.get(), connection->client.get(), connection->to_client, etcd_readable)) {
          ++connection;
        } else {
          connection = connections.erase(connection);
        }
      }
    }
  }

  void accept_all(std::list<Connection>& connections, LinkState applied) const {
    while (true) {
      UniqueFd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!client) {
        return;
      }
      Connection connection;
      connection.client = std::move(client);
      if (applied == LinkState::refused || (applied == LinkState::open && !connect_to_etcd(connection))) {
        reset(connection.client);
        continue;
      }
      connections.push_back(std::move(connection));
    }
  }

  std::uint16_t etcd_port_;
  UniqueFd listener_;
  std::uint16_t port_ = 0;
  std::atomic<LinkState> state_{LinkState::open};
};

/// A CMD that the witness saw start.
struct LiveCommand {
  int attempt = 0;
  std::string host;
  pid_t pid = -1;
};

/// The test's side of the Unix socket every CMD connects to: it notes in the history when each CMD's
/// connection closes, which is when that process is gone (its descriptors are closed at its exit, before
/// its parent can reap it). Destroyed, it closes the connections left, which ends their CMDs.
class Witness : private PollThread {
 public:
  Witness(std::filesystem::path socket_path, const History& history)
      : path_(std::move(socket_path)),
        history_(history),
        listener_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path_.string().size() >= sizeof address.sun_path) {
      throw std::runtime_error("the witness socket's path is too long: " + path_.string());
    }
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    if (!listener_ || ::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_.get(), 64) != 0) {
      throw std::runtime_error("cannot listen on the witness socket " + path_.string());
    }
    start([this] { watch(); });
  }
  Witness(const Witness&) = delete;
  Witness& operator=(const Witness&) = delete;
  Witness(Witness&&) = delete;
  Witness& operator=(Witness&&) = delete;
  ~Witness() override { stop(); }

  const std::filesystem::path& path() const { return path_; }

  std::vector<LiveCommand> live() const {
    std::lock_guard guard(mutex_);
    std::vector<LiveCommand> commands;
    for (const auto& [attempt, command] : live_) {
      commands.push_back(command);
    }
    return commands;
  }

 private:
  struct Connection {
    UniqueFd socket;
    std::string received;
    long long accepted = 0;
    std::optional<LiveCommand> command;
  };

  void note_hello(Connection& connection) {
    auto end = connection.received.find('\n');
    if (connection.command || end == std::string::npos) {
      return;
    }
    std::istringstream fields(connection.received.substr(0, end));
    LiveCommand command;
    fields >> command.attempt >> command.host >> command.pid;
    connection.command = command;
    history_.append(fmt::format("connected {} {} {}", command.attempt, command.host, connection.accepted));
    std::lock_guard guard(mutex_);
    live_[command.attempt] = command;
  }

  void note_gone(const Connection& connection, long long when) {
    if (!connection.command) {
      history_.append(fmt::format("gone-unnamed {}", when));
      return;
    }
    history_.append(fmt::format("gone {} {}", connection.command->attempt, when));
    std::lock_guard guard(mutex_);
    live_.erase(connection.command->attempt);
  }

  void watch() {
    // A real-time priority (where allowed: the tests run as root) keeps a loaded machine from delaying the
    // moment a CMD is seen gone: a late observation only lengthens a hold, which can only make the
    // check stricter, but it would shrink the figures.
    sched_param priority{};
    priority.sched_priority = 1;
    ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &priority);
    std::list<Connection> connections;
    while (!stopping()) {
      std::vector<pollfd> watched{{wake_descriptor(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
      for (auto& connection : connections) {
        watched.push_back({connection.socket.get(), POLLIN, 0});
      }
      if (::poll(watched.data(), watched.size(), -1) < 0) {
        continue;
      }
      auto now = monotonic_nanoseconds();
      if (watched[0].revents != 0) {
        drain_wake();
      }
      if (watched[1].revents != 0) {
        while (true) {
          UniqueFd socket(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
          if (!socket) {
            break;
          }
          connections.push_back({std::move(socket), {}, now, std::nullopt});
        }
      }
      std::size_t index = 2;
      for (auto connection = connections.begin(); connection != connections.end() && index < watched.size();) {
        if (watched[index++].revents == 0) {
          ++connection;
          continue;
        }
        bool ended = false;
        while (true) {
          char chunk[256];
          auto count = ::read(connection->socket.get(), chunk, sizeof chunk);
          if (count > 0) {
            connection->received.append(chunk, static_cast<std::size_t>(count));
            continue;
          }
          ended = count == 0 || (errno != EAGAIN && errno != EINTR);
          break;
        }
        note_hello(*connection);
        if (ended) {
          note_gone(*connection, now);
          connection = connections.erase(connection);
        } else {
          ++connection;
        }
      }
    }
  }

  std::filesystem::path path_;
  const History& history_;
  UniqueFd listener_;
  mutable std::mutex mutex_;
  std::map<int, LiveCommand> live_;
};

// Whether `process` (a child of this one) has executed another program (or has ended).
bool executes_another_program(pid_t process) {
  std::error_code error;
  auto program = std::filesystem::read_symlink("/proc/" + std::to_string(process) + "/exe", error);
  return error || program != std::filesystem::read_symlink("/proc/self/exe");
}

/// One `portpool run` of a host.
struct Attempt {
  std::string host;
  pid_t run = -1;
  bool finished = false;  // exited (not reaped yet while the runner records it)
  int exit_code = -1;
  std::string errors;
  bool killed_by_test = false;
  bool stopped_at_end = false;
};

/// The hosts' loops: each runs `portpool run ... scheduler -- CMD` again whenever the last one ended
/// (lost the port, could not get it, could not reach etcd), after a random 150-400 ms.
class Hosts {
 public:
  struct Setup {
    std::filesystem::path table;
    std::string prefix;
    std::filesystem::path scratch;
    const Witness* witness = nullptr;
    const History* history = nullptr;
  };

  Hosts(Setup setup, const std::vector<std::string>& endpoints, std::uint64_t seed) : setup_(std::move(setup)) {
    for (std::size_t index = 0; index < endpoints.size(); ++index) {
      runners_.emplace_back([this, index, endpoint = endpoints[index], seed] { run_host(index, endpoint, seed); });
    }
  }
  Hosts(const Hosts&) = delete;
  Hosts& operator=(const Hosts&) = delete;
  Hosts(Hosts&&) = delete;
  Hosts& operator=(Hosts&&) = delete;
  ~Hosts() { stop(); }

  /// SIGKILL of the `portpool run` that started CMD `attempt`, if it still runs; whether it did.
  bool kill_run(int attempt) {
    std::lock_guard guard(mutex_);
    auto found = attempts_.find(attempt);
    if (found == attempts_.end() || found->second.finished) {
      return false;
    }
    found->second.killed_by_test = true;
    ::kill(found->second.run, SIGKILL);
    return true;
  }

  /// Ends the loops: SIGTERM to every run (SIGKILL after 5 s), which ends its CMD. A run is signalled
  /// only once it executes `portpool`: before, the forked child still has the test's signal handlers.
  void stop() {
    {
      std::lock_guard guard(mutex_);
      if (stopping_) {
        return;
      }
      stopping_ = true;
    }
    std::set<int> signalled;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (running_ > 0 && std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard guard(mutex_);
        for (auto& [attempt, record] : attempts_) {
          if (!record.finished && signalled.count(attempt) == 0 && executes_another_program(record.run)) {
            record.stopped_at_end = true;
            ::kill(record.run, SIGTERM);
            signalled.insert(attempt);
          }
        }
      }
      std::this_thread::sleep_for(10ms);
    }
    {
      std::lock_guard guard(mutex_);
      for (auto& [attempt, record] : attempts_) {
        if (!record.finished) {
          record.stopped_at_end = true;
          ::kill(record.run, SIGKILL);
        }
      }
    }
    for (auto& runner : runners_) {
      runner.join();
    }
  }

  std::map<int, Attempt> attempts() const {
    std::lock_guard guard(mutex_);
    return attempts_;
  }

 private:
  void run_host(std::size_t index, const std::string& endpoint, std::uint64_t seed) {
    ++running_;
    std::mt19937_64 random(seed + 1 + index);
    const std::string host = host_ids.at(index);
    auto errors_path = setup_.scratch / (host + ".err");
    auto lock_dir = setup_.scratch / (host + "-locks");
    while (true) {
      std::ofstream(errors_path, std::ios::trunc).close();
      std::optional<ChildProcess> run;
      int attempt = 0;
      {
        std::lock_guard guard(mutex_);
        if (stopping_) {
          break;
        }
        attempt = next_attempt_++;
        std::vector<std::string> arguments{
            "run",      "--config",    setup_.table.string(), "--lock-dir", lock_dir.string(), "--etcd", endpoint,
            "--prefix", setup_.prefix, "--host-id",           host};
        arguments.insert(arguments.end(), fencing_options.begin(), fencing_options.end());
        const char* term = std::uniform_int_distribution<int>(0, 1)(random) == 0 ? "obey-term" : "ignore-term";
        arguments.insert(arguments.end(),
                         {"scheduler", "--", PORTPOOL_TEST_ROUNDS_COMMAND, setup_.witness->path().string(),
                          setup_.history->path().string(), host, std::to_string(attempt), term});
        run.emplace(spawn_cli(arguments, errors_path));
        attempts_[attempt].host = host;
        attempts_[attempt].run = run->pid();
      }
      siginfo_t info{};
      while (::waitid(P_PID, static_cast<id_t>(run->pid()), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
      }
      setup_.history->append(fmt::format("exited {} {}", attempt, monotonic_nanoseconds()));
      {
        std::lock_guard guard(mutex_);
        attempts_[attempt].finished = true;
      }
      auto exit_code = run->exit_code();
      auto errors = text_of(errors_path);
      {
        std::lock_guard guard(mutex_);
        attempts_[attempt].exit_code = exit_code;
        attempts_[attempt].errors = errors;
      }
      std::this_thread::sleep_for(between(random, 150, 400));
    }
    --running_;
  }

  Setup setup_;
  mutable std::mutex mutex_;
  std::map<int, Attempt> attempts_;
  int next_attempt_ = 1;
  bool stopping_ = false;
  std::atomic<int> running_{0};
  std::vector<std::thread> runners_;
};

enum class Fault {
  etcd_paused,
  etcd_restarted_with_data,
  claimant_killed,
  link_cut,
  etcd_restarted_without_data,
  leader_killed,
  leader_paused,
  quorum_lost
};

const char* name_of(Fault fault) {
  switch (fault) {
    case Fault::etcd_paused:
      return "etcd-paused";
    case Fault::etcd_restarted_with_data:
      return "etcd-restarted-with-data";
    case Fault::claimant_killed:
      return "claimant-killed";
    case Fault::link_cut:
      return "link-cut";
    case Fault::etcd_restarted_without_data:
      return "etcd-restarted-without-data";
    case Fault::leader_killed:
      return "leader-killed";
    case Fault::leader_paused:
      return "leader-paused";
    case Fault::quorum_lost:
      return "quorum-lost";
  }
  return "?";
}

// Continues etcd when the test ends, passed or not (before EtcdStopper stops it).
class EtcdContinuer {
 public:
  explicit EtcdContinuer(const EtcdServer& server) : server_(server) {}
  EtcdContinuer(const EtcdContinuer&) = delete;
  EtcdContinuer& operator=(const EtcdContinuer&) = delete;
  EtcdContinuer(EtcdContinuer&&) = delete;
  EtcdContinuer& operator=(EtcdContinuer&&) = delete;
  ~EtcdContinuer() { ::kill(server_.pid, SIGCONT); }

 private:
  const EtcdServer& server_;
};

/// What the history says of one CMD (times in CLOCK_MONOTONIC nanoseconds; 0: not seen).
struct Hold {
  std::string host;
  long long start = 0;
  long long connected = 0;
  long long term = 0;
  long long gone = 0;
  long long killed = 0;  // the test's SIGKILL of its `portpool run`
  long long exited = 0;  // its `portpool run` seen ended

  long long began() const { return start != 0 ? start : connected; }
};

struct RoundRecord {
  Fault fault;
  long long began = 0;
};

std::map<int, Hold> read_history(const std::filesystem::path& path, std::vector<RoundRecord>& rounds) {
  std::map<int, Hold> holds;
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    std::istringstream fields(line);
    std::string event;
    fields >> event;
    if (event == "fault") {
      int number = 0;
      int fault = 0;
      std::string name;
      long long began = 0;
      fields >> number >> fault >> name >> began;
      rounds.push_back({static_cast<Fault>(fault), began});
      continue;
    }
    if (event == "gone-unnamed") {
      continue;
    }
    int attempt = 0;
    fields >> attempt;
    auto& hold = holds[attempt];
    long long when = 0;
    if (event == "start" || event == "term" || event == "ignoring") {
      std::string port;
      pid_t pid = 0;
      fields >> hold.host >> port >> pid >> when;
    } else if (event == "connected") {
      fields >> hold.host >> when;
    } else {
      fields >> when;
    }
    if (event == "start") {
      hold.start = when;
    } else if (event == "term" && hold.term == 0) {
      hold.term = when;
    } else if (event == "connected") {
      hold.connected = when;
    } else if (event == "gone") {
      hold.gone = when;
    } else if (event == "killed") {
      hold.killed = when;
    } else if (event == "exited") {
      hold.exited = when;
    }
  }
  return holds;
}

struct Statistics {
  std::vector<double> values;
  void add(double value) { values.push_back(value); }
  std::string summary() const {
    if (values.empty()) {
      return "none";
    }
    auto sorted = values;
    std::sort(sorted.begin(), sorted.end());
    return fmt::format("{} (min {:.3f} s, median {:.3f} s, max {:.3f} s)", sorted.size(), sorted.front(),
                       sorted[sorted.size() / 2], sorted.back());
  }
};

// SIGKILL of the current holder's `portpool run`, its CMD told first to outlive SIGTERM (and to say so
// in the history), so that only the keeper's SIGKILL can end it. Whether there was a holder to kill.
bool kill_claimant(const Witness& witness, const History& history, Hosts& hosts) {
  std::optional<LiveCommand> holder;
  wait_until(
      [&] {
        auto live = witness.live();
        if (!live.empty()) {
          holder = live.back();
        }
        return holder.has_value();
      },
      8s);
  if (!holder) {
    return false;
  }
  ::kill(holder->pid, SIGUSR1);
  auto marker = fmt::format("ignoring {} ", holder->attempt);
  wait_until([&] { return text_of(history.path()).find(marker) != std::string::npos; }, 3s);
  history.append(fmt::format("killed {} {}", holder->attempt, monotonic_nanoseconds()));
  return hosts.kill_run(holder->attempt);  // false: it ended in the meantime
}

/// What a series of rounds did, for the figures.
struct RoundsSummary {
  std::string cluster;
  int round_count = 0;
  double rounds_took = 0;
  std::map<Fault, int> faults;
  int claimant_kills_without_holder = 0;
};

/// Stops the hosts, then checks the history: one holder at a time, every holder that stopped told
/// why; prints the figures.
void check_rounds(const History& history, const Witness& witness, Hosts& hosts, const RoundsSummary& summary) {
  hosts.stop();
  auto attempts = hosts.attempts();
  bool all_gone = wait_until([&] { return witness.live().empty(); }, 10s);
  const auto& [cluster, round_count, rounds_took, faults, claimant_kills_without_holder] = summary;

  std::vector<RoundRecord> rounds;
  auto holds = read_history(history.path(), rounds);
  CHECK(all_gone);

  // The guarantee, part one: one holder at a time, across hosts.
  std::vector<std::pair<int, Hold>> intervals;
  std::vector<std::string> never_gone;
  for (const auto& [attempt, hold] : holds) {
    if (hold.began() == 0) {
      continue;
    }
    if (hold.gone == 0) {
      never_gone.push_back(fmt::format("attempt {} on {}", attempt, hold.host));
      continue;
    }
    intervals.emplace_back(attempt, hold);
  }
  REQUIRE(!intervals.empty());
  std::sort(intervals.begin(), intervals.end(),
            [](const auto& left, const auto& right) { return left.second.began() < right.second.began(); });

  // The guarantee, part two: every holder that stopped was told why, or was stopped by the test itself.
  auto round_at = [&](long long when) -> std::string {
    auto during =
        std::find_if(rounds.rbegin(), rounds.rend(), [when](const RoundRecord& round) { return round.began <= when; });
    return during == rounds.rend() ? "before the first" : name_of(during->fault);
  };
  std::vector<std::string> untold;
  std::map<int, std::string> ending_of;
  std::map<std::string, int> endings;
  std::map<std::string, int> losses_by_fault;
  Statistics term_to_gone;
  Statistics kill_to_gone;
  for (const auto& [attempt, hold] : intervals) {
    auto found = attempts.find(attempt);
    if (found == attempts.end()) {
      untold.push_back(fmt::format("attempt {}: no `portpool run` recorded for it", attempt));
      continue;
    }
    const auto& run = found->second;
    if (run.exit_code == 69 && run.errors.find("is lost: ") != std::string::npos) {
      ending_of[attempt] = "told the port was lost (exit 69)";
      if (hold.term != 0) {
        term_to_gone.add(seconds(hold.gone - hold.term));
        ++losses_by_fault[round_at(hold.term)];
      }
    } else if (run.killed_by_test) {
      ending_of[attempt] = "run SIGKILLed by the test";
      if (hold.killed != 0) {
        kill_to_gone.add(seconds(hold.gone - hold.killed));
      }
    } else if (run.stopped_at_end) {
      ending_of[attempt] = "stopped at the end of the rounds";
    } else {
      untold.push_back(fmt::format("attempt {} on {}: `portpool run` exited {} without saying the port was lost: {}",
                                   attempt, run.host, run.exit_code, run.errors));
      ending_of[attempt] = "not told";
    }
    ++endings[ending_of[attempt]];
  }

  // The guarantee, part one: one holder at a time, across hosts. The gap of a handover (the previous
  // hold was another host's) is counted by how that hold ended.
  std::vector<std::string> overlaps;
  std::map<std::string, Statistics> handover_gaps;
  std::optional<std::pair<long long, std::string>> closest;
  for (std::size_t later = 0; later < intervals.size(); ++later) {
    const auto& [next_attempt, next] = intervals[later];
    for (std::size_t earlier = 0; earlier < later; ++earlier) {
      const auto& [previous_attempt, previous] = intervals[earlier];
      if (previous.host == next.host) {
        continue;
      }
      auto gap = next.began() - previous.gone;
      auto pair = fmt::format(
          "attempt {} on {} [{:.3f}, {:.3f}] ({}, in a round of {}; its run ended at {:.3f}) and attempt {} on {} "
          "[{:.3f}, {:.3f}]",
          previous_attempt, previous.host, seconds(previous.began()), seconds(previous.gone),
          ending_of[previous_attempt], round_at(previous.gone), seconds(previous.exited), next_attempt, next.host,
          seconds(next.began()), seconds(next.gone));
      if (gap < 0) {
        overlaps.push_back(pair);
      }
      if (!closest || gap < closest->first) {
        closest = std::make_pair(gap, pair);
      }
    }
    if (later > 0 && intervals[later - 1].second.host != next.host) {
      const auto& [previous_attempt, previous] = intervals[later - 1];
      handover_gaps[ending_of[previous_attempt] + " in a round of " + round_at(previous.gone)].add(
          seconds(next.began() - previous.gone));
    }
  }

  // Runs whose CMD never started, by exit code, with the first one's words: what kept the hosts waiting.
  std::map<int, int> idle_runs;
  std::map<int, std::string> idle_words;
  for (const auto& [attempt, run] : attempts) {
    if (holds.count(attempt) == 0 || holds.at(attempt).began() == 0) {
      ++idle_runs[run.exit_code];
      idle_words.emplace(run.exit_code, run.errors.substr(0, run.errors.find('\n')));
    }
  }
  std::string idle_text;
  for (const auto& [code, count] : idle_runs) {
    idle_text += fmt::format("\n  exit {}: {} (the first said: {})", code, count, idle_words[code]);
  }

  auto listed = [](const auto& counts) {
    std::string text;
    for (const auto& [name, count] : counts) {
      text += fmt::format("\n  {}: {}", name, count);
    }
    return text;
  };
  std::string faults_text;
  for (const auto& [fault, count] : faults) {
    faults_text += fmt::format(" {} {},", name_of(fault), count);
  }
  std::string gaps_text;
  for (const auto& [ending, gaps] : handover_gaps) {
    gaps_text += fmt::format("\n  after a hold {}: {}", ending, gaps.summary());
  }
  std::cout << fmt::format(
      "fault rounds ({}): {} rounds in {:.1f} s (TTL {} s, --kill-grace 300ms: stop margin 0.8 s); faults:{} "
      "claimant-killed rounds without a holder to kill: {}\n"
      "holds: {} by {} `portpool run`s; how they ended:{}\nruns whose CMD never started, by exit code:{}\n"
      "losses told, by the fault of their round:{}\n"
      "handovers between hosts, gap from one host's CMD gone to the next host's CMD start:{}\n"
      "closest gap between any two hosts' holds: {}\n"
      "stop windows: SIGTERM of a lost holder's CMD to CMD gone: {}; SIGKILL of a claimant's run to its "
      "TERM-ignoring CMD gone: {}\n",
      cluster, round_count, rounds_took, fleet_ttl.count(), faults_text, claimant_kills_without_holder,
      intervals.size(), attempts.size(), listed(endings), idle_text, listed(losses_by_fault), gaps_text,
      closest ? fmt::format("{:.3f} s: {}", seconds(closest->first), closest->second) : std::string("none"),
      term_to_gone.summary(), kill_to_gone.summary());

  INFO("history log:\n" << (overlaps.empty() && untold.empty() ? std::string() : text_of(history.path())));
  CHECK(never_gone.empty());
  for (const auto& overlap : overlaps) {
    FAIL_CHECK("two hosts held the port at once: " << overlap);
  }
  for (const auto& holder : untold) {
    FAIL_CHECK("a holder was not told: " << holder);
  }
}

}  // namespace

TEST_CASE("fault rounds: no two hosts ever hold the one port at once, and every holder that lost it was told") {
  auto seed = number_from_environment("PORTPOOL_FLEET_ROUNDS_SEED").value_or(std::random_device{}());
  auto round_count = static_cast<int>(number_from_environment("PORTPOOL_FLEET_ROUNDS").value_or(default_round_count));
  bool data_loss_rounds =
      etcd_data_loss_rounds_enabled || number_from_environment("PORTPOOL_FLEET_ROUNDS_DATA_LOSS").value_or(0) != 0;
  std::cout << fmt::format(
      "fault rounds: seed {} (the same fault schedule again: PORTPOOL_FLEET_ROUNDS_SEED={} ctest -R '^fleet "
      "rounds:'), {} rounds, etcd data-loss rounds {}\n",
      seed, seed, round_count, data_loss_rounds ? "on" : "off");
  INFO("seed " << seed << " (replay: PORTPOOL_FLEET_ROUNDS_SEED=" << seed << ")");
  std::mt19937_64 random(seed);

  TempDir scratch;
  auto etcd_server = start_etcd(scratch.path() / "etcd");
  EtcdStopper stopper(etcd_server);
  EtcdContinuer continuer(etcd_server);
  History history(scratch.path() / "history.log");
  Witness witness(scratch.path() / "witness.sock", history);
  std::vector<std::unique_ptr<LinkProxy>> links;
  std::vector<std::string> endpoints;
  for (std::size_t index = 0; index < host_ids.size(); ++index) {
    links.push_back(std::make_unique<LinkProxy>(etcd_server.client_port));
    endpoints.push_back(links.back()->endpoint());
  }
  auto ports = ReservedPorts::any(1);
  auto table = scratch.path() / "table.toml";
  std::ofstream(table) << fmt::format("[services.scheduler]\nports = [{}]\nscope = \"fleet\"\n", ports[0]);

  std::optional<Hosts> hosts;
  hosts.emplace(Hosts::Setup{table, seeded_prefix(etcd_server.endpoint()), scratch.path(), &witness, &history},
                endpoints, seed);
  REQUIRE(wait_until([&] { return !witness.live().empty(); }, 30s));

  std::vector<Fault> kinds{Fault::etcd_paused, Fault::etcd_restarted_with_data, Fault::claimant_killed,
                           Fault::link_cut};
  if (data_loss_rounds) {
    kinds.push_back(Fault::etcd_restarted_without_data);
  }
  std::map<Fault, int> faults;
  int claimant_kills_without_holder = 0;
  auto rounds_began = std::chrono::steady_clock::now();
  for (int round = 1; round <= round_count; ++round) {
    auto fault = kinds[std::uniform_int_distribution<std::size_t>(0, kinds.size() - 1)(random)];
    auto duration = between(random, 0, 1000);  // drawn for every kind, so that each seed is one schedule
    auto choice = std::uniform_int_distribution<int>(0, 99)(random);
    auto pause_after = between(random, 100, 600);
    history.append(
        fmt::format("fault {} {} {} {}", round, static_cast<int>(fault), name_of(fault), monotonic_nanoseconds()));
    ++faults[fault];
    switch (fault) {
      case Fault::etcd_paused:
        // Past the TTL by 0.1 to 0.9 s: every lease of the holders could expire.
        REQUIRE(::kill(etcd_server.pid, SIGSTOP) == 0);
        std::this_thread::sleep_for(fleet_ttl + 100ms + duration * 8 / 10);
        REQUIRE(::kill(etcd_server.pid, SIGCONT) == 0);
        break;
      case Fault::etcd_restarted_with_data:
      case Fault::etcd_restarted_without_data:
        ::kill(etcd_server.pid, SIGKILL);
        REQUIRE(wait_until([&] { return process_gone(etcd_server.pid); }, 10s));
        if (fault == Fault::etcd_restarted_without_data) {
          std::filesystem::remove_all(etcd_server.directory / "data");
        }
        std::this_thread::sleep_for(duration);  // down for 0 to 1 s, then as long as etcd takes to start
        run_etcd(etcd_server);
        break;
      case Fault::claimant_killed:
        if (!kill_claimant(witness, history, *hosts)) {
          ++claimant_kills_without_holder;
        }
        break;
      case Fault::link_cut: {
        // Most often the holder's own link; refused or blackholed for 0.3 to 2.5 s.
        auto live = witness.live();
        std::size_t target = static_cast<std::size_t>(choice) % host_ids.size();
        if (!live.empty() && choice < 75) {
          target = static_cast<std::size_t>(std::find(host_ids.begin(), host_ids.end(), live.back().host) -
                                            host_ids.begin());
        }
        links.at(target)->set(choice % 2 == 0 ? LinkState::refused : LinkState::blackholed);
        std::this_thread::sleep_for(300ms + duration * 22 / 10);
        links.at(target)->set(LinkState::open);
        break;
      }
      default:
        FAIL("a fault of a cluster in the rounds of one etcd");
    }
    std::this_thread::sleep_for(pause_after);
  }
  auto rounds_took = std::chrono::duration<double>(std::chrono::steady_clock::now() - rounds_began).count();
  check_rounds(history, witness, *hosts, {"one etcd", round_count, rounds_took, faults, claimant_kills_without_holder});
}

namespace {

constexpr int default_cluster_round_count = 20;

/// The member that etcd's status names leader, asked of each member in turn (an election may be
/// under way: asked again for up to 15 s); none when no member names itself.
std::optional<std::size_t> leader_of(const std::vector<EtcdServer>& members) {
  std::optional<std::size_t> leader;
  wait_until(
      [&] {
        for (std::size_t index = 0; index < members.size(); ++index) {
          try {
            auto status = HttpClient(members[index].client_port, 2s)
                              .request(http::verb::post, "/v3/maintenance/status", "{}")
                              .json();
            if (status.at("header").at("member_id") == status.at("leader")) {
              leader = index;
              return true;
            }
          } catch (const std::exception&) {
            // stopped, electing, or starting: the next member
          }
        }
        return false;
      },
      15s);
  return leader;
}

/// SIGKILL of `member`, seen gone.
void kill_member(EtcdServer& member) {
  ::kill(member.pid, SIGKILL);
  REQUIRE(wait_until([&] { return process_gone(member.pid); }, 10s));
}

// Continues and stops every member when the test ends, passed or not.
class ClusterStopper {
 public:
  explicit ClusterStopper(std::vector<EtcdServer>& members) : members_(members) {}
  ClusterStopper(const ClusterStopper&) = delete;
  ClusterStopper& operator=(const ClusterStopper&) = delete;
  ClusterStopper(ClusterStopper&&) = delete;
  ClusterStopper& operator=(ClusterStopper&&) = delete;
  ~ClusterStopper() {
    for (auto& member : members_) {
      ::kill(member.pid, SIGCONT);
      if (!process_gone(member.pid)) {
        stop_etcd(member.pid);
      }
    }
  }

 private:
  std::vector<EtcdServer>& members_;
};

}  // namespace

TEST_CASE("fault rounds in a three-member etcd cluster: leader killed or paused, quorum lost, claimant killed") {
  auto seed = number_from_environment("PORTPOOL_FLEET_ROUNDS_SEED").value_or(std::random_device{}());
  auto round_count =
      static_cast<int>(number_from_environment("PORTPOOL_FLEET_CLUSTER_ROUNDS").value_or(default_cluster_round_count));
  std::cout << fmt::format(
      "fault rounds in a cluster: seed {} (the same fault schedule again: PORTPOOL_FLEET_ROUNDS_SEED={} ctest -R "
      "'^fleet rounds:'), {} rounds\n",
      seed, seed, round_count);
  INFO("seed " << seed << " (replay: PORTPOOL_FLEET_ROUNDS_SEED=" << seed << ")");
  std::mt19937_64 random(seed);

  TempDir scratch;
  auto members = start_etcd_cluster(scratch.path() / "etcd", 3);
  ClusterStopper stopper(members);
  History history(scratch.path() / "history.log");
  Witness witness(scratch.path() / "witness.sock", history);
  // Every host knows every member, each host starting with another, so that the hosts talk to
  // different members and move to the next when theirs stops answering.
  std::vector<std::string> endpoints;
  for (std::size_t host = 0; host < host_ids.size(); ++host) {
    std::string list;
    for (std::size_t offset = 0; offset < members.size(); ++offset) {
      list += (list.empty() ? "" : ",") + members[(host + offset) % members.size()].endpoint();
    }
    endpoints.push_back(list);
  }
  auto ports = ReservedPorts::any(1);
  auto table = scratch.path() / "table.toml";
  std::ofstream(table) << fmt::format("[services.scheduler]\nports = [{}]\nscope = \"fleet\"\n", ports[0]);

  std::optional<Hosts> hosts;
  hosts.emplace(Hosts::Setup{table, seeded_prefix(members[0].endpoint()), scratch.path(), &witness, &history},
                endpoints, seed);
  REQUIRE(wait_until([&] { return !witness.live().empty(); }, 30s));

  const std::vector<Fault> kinds{Fault::leader_killed, Fault::leader_paused, Fault::quorum_lost,
                                 Fault::claimant_killed};
  std::map<Fault, int> faults;
  int claimant_kills_without_holder = 0;
  auto rounds_began = std::chrono::steady_clock::now();
  for (int round = 1; round <= round_count; ++round) {
    auto fault = kinds[std::uniform_int_distribution<std::size_t>(0, kinds.size() - 1)(random)];
    auto duration = between(random, 0, 1000);
    auto pause_after = between(random, 100, 600);
    std::optional<std::size_t> leader;
    if (fault != Fault::claimant_killed) {
      leader = leader_of(members);
      REQUIRE(leader.has_value());
    }
    history.append(
        fmt::format("fault {} {} {} {}", round, static_cast<int>(fault), name_of(fault), monotonic_nanoseconds()));
    ++faults[fault];
    switch (fault) {
      case Fault::leader_killed:
        // The other two elect a leader; the killed one comes back with its data after 0 to 1 s.
        kill_member(members[*leader]);
        std::this_thread::sleep_for(duration);
        run_etcd(members[*leader]);
        break;
      case Fault::leader_paused:
        // Past the TTL by 0.1 to 0.9 s: the other two elect a leader meanwhile, and the paused one
        // comes back believing it still leads.
        REQUIRE(::kill(members[*leader].pid, SIGSTOP) == 0);
        std::this_thread::sleep_for(fleet_ttl + 100ms + duration * 8 / 10);
        REQUIRE(::kill(members[*leader].pid, SIGCONT) == 0);
        break;
      case Fault::quorum_lost: {
        // The leader and another member killed past the TTL: the one left cannot serve, so no lease
        // is renewed; both come back with their data.
        auto other = (*leader + 1) % members.size();
        kill_member(members[*leader]);
        kill_member(members[other]);
        std::this_thread::sleep_for(fleet_ttl + 100ms + duration * 8 / 10);
        run_etcd(members[*leader]);
        run_etcd(members[other]);
        break;
      }
      case Fault::claimant_killed:
        if (!kill_claimant(witness, history, *hosts)) {
          ++claimant_kills_without_holder;
        }
        break;
      default:
        FAIL("a fault of the rounds of one etcd in a cluster's rounds");
    }
    std::this_thread::sleep_for(pause_after);
  }
  auto rounds_took = std::chrono::duration<double>(std::chrono::steady_clock::now() - rounds_began).count();
  check_rounds(history, witness, *hosts,
               {"a three-member cluster", round_count, rounds_took, faults, claimant_kills_without_holder});
}
