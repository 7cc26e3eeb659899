// `portpool run` and `lease` for udp and both services (`transport = "udp"`, --transport): real
// datagram servers (dnsmasq, socat, a Python server given descriptor 3) on their pool ports, the
// sockets that --socket and --socket-path hand over, and a TCP and a UDP service drawing from one
// range.

#include "cli.hpp"
#include "skip.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::ChildProcess;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::receive_sockets;
using portpool::test::ReservedPorts;
using portpool::test::run_portpool;
using portpool::test::spawn_portpool;
using portpool::test::TempDir;
using portpool::test::wait_until;
using portpool::test::write_config;
using namespace std::chrono_literals;

namespace {

/// The path of `program` in $PATH (or /usr/sbin, /sbin, where dnsmasq lives), or nullopt.
std::optional<std::string> installed(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::istringstream directories(std::string(path == nullptr ? "" : path) + ":/usr/sbin:/sbin");
  for (std::string directory; std::getline(directories, directory, ':');) {
    auto candidate = std::filesystem::path(directory.empty() ? "." : directory) / program;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
  }
  return std::nullopt;
}

/// A temporary lock directory and a config with one shared pool "voice" of `count` ports whose
/// transport is `transport`.
struct UdpFixture {
  explicit UdpFixture(const std::string& transport, std::size_t count = 2)
      : ports(ReservedPorts::any(count)), config(write_config(dir, pool_text(transport))) {}

  std::string pool_text(const std::string& transport) const {
    std::string list;
    for (auto port : ports.ports()) {
      list += (list.empty() ? "" : ", ") + std::to_string(port);
    }
    return "[services.voice]\nports = [" + list + "]\ntransport = \"" + transport + "\"\n";
  }

  std::vector<std::string> run_arguments(const std::vector<std::string>& options,
                                         const std::vector<std::string>& command) const {
    std::vector<std::string> arguments{"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string()};
    arguments.insert(arguments.end(), options.begin(), options.end());
    arguments.emplace_back("voice");
    arguments.emplace_back("--");
    arguments.insert(arguments.end(), command.begin(), command.end());
    return arguments;
  }

  std::vector<std::string> lease_arguments(const std::vector<std::string>& options) const {
    std::vector<std::string> arguments{"lease", "--config", config.string(), "--lock-dir", dir.lock_dir().string()};
    arguments.insert(arguments.end(), options.begin(), options.end());
    arguments.emplace_back("voice");
    return arguments;
  }

  /// `path`, written with `text`: a script for CMD.
  std::string script(const std::string& name, const std::string& text) const {
    auto path = dir.path() / name;
    std::ofstream(path) << text;
    return path.string();
  }

  bool nothing_held() const {
    return wait_until([&] { return holders(dir.lock_dir()).empty(); });
  }

  TempDir dir;
  ReservedPorts ports;
  std::filesystem::path config;
};

/// The answer to the datagram `text` sent to 127.0.0.1:port, or nullopt when none comes within
/// `timeout`.
std::optional<std::string> exchange(std::uint16_t port, const std::string& text,
                                    std::chrono::milliseconds timeout = 5s) {
  portpool::UniqueFd client(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto address = portpool::test::loopback(port);
  if (::sendto(client.get(), text.data(), text.size(), 0, reinterpret_cast<const sockaddr*>(&address),
               sizeof address) != static_cast<ssize_t>(text.size())) {
    return std::nullopt;
  }
  pollfd readable{client.get(), POLLIN, 0};
  if (::poll(&readable, 1, static_cast<int>(timeout.count())) != 1) {
    return std::nullopt;
  }
  std::array<char, 512> answer{};
  auto count = ::recv(client.get(), answer.data(), answer.size(), 0);
  if (count < 0) {
    return std::nullopt;
  }
  return std::string(answer.data(), static_cast<std::size_t>(count));
}

/// The answer to `text` once the server on `port` answers (it may still be starting).
std::optional<std::string> exchange_once_served(std::uint16_t port, const std::string& text) {
  std::optional<std::string> answer;
  wait_until([&] { return (answer = exchange(port, text, 200ms)).has_value(); });
  return answer;
}

/// The next line of `process` that starts with `prefix`, without it; nullopt at end of output.
std::optional<std::string> line_after(ChildProcess& process, const std::string& prefix) {
  while (auto line = process.read_line()) {
    if (line->rfind(prefix, 0) == 0) {
      return line->substr(prefix.size());
    }
  }
  return std::nullopt;
}

int socket_option(int descriptor, int option) {
  int value = -1;
  socklen_t size = sizeof value;
  ::getsockopt(descriptor, SOL_SOCKET, option, &value, &size);
  return value;
}

// A datagram server on descriptor 3 (socket activation): says what it was given on one line
// "SERVING <pid> <port> <socket inode> <LISTEN_FDS> <LISTEN_FDNAMES>", sends READY=1 to
// $NOTIFY_SOCKET, then answers each datagram with "<pid> <datagram>", and exits (status 3) after
// answering "exit".
constexpr const char* datagram_server = R"(import os, socket, sys
assert os.environ["LISTEN_PID"] == str(os.getpid())
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, fileno=3)
print("SERVING", os.getpid(), server.getsockname()[1], os.fstat(3).st_ino, os.environ["LISTEN_FDS"],
      os.environ["LISTEN_FDNAMES"], flush=True)
notify = os.environ.get("NOTIFY_SOCKET", "")
if notify:
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", "\0" + notify[1:])
while True:
    data, sender = server.recvfrom(512)
    server.sendto(b"%d %s" % (os.getpid(), data), sender)
    if data == b"exit":
        sys.exit(3)
)";

// Given a `both` service's sockets (3: TCP, 4: UDP): says what they are, then answers one TCP
// connection and one datagram.
constexpr const char* tcp_and_udp_server = R"(import os, socket
tcp = socket.socket(fileno=3)
udp = socket.socket(fileno=4)
print("GIVEN", os.environ["LISTEN_FDS"], os.environ["LISTEN_FDNAMES"], tcp.type == socket.SOCK_STREAM,
      tcp.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN), udp.type == socket.SOCK_DGRAM,
      tcp.getsockname()[1], udp.getsockname()[1], flush=True)
connection, _ = tcp.accept()
connection.sendall(b"tcp answer")
connection.close()
data, sender = udp.recvfrom(512)
udp.sendto(b"udp answer to " + data, sender)
)";

// A DNS client: asks 127.0.0.1:PORT over udp or tcp (as argv[2] says) for portpool.test's IPv4
// address, again until the server answers, and prints the address.
constexpr const char* dns_query = R"(import socket, struct, sys, time
port, transport = int(sys.argv[1]), sys.argv[2]
name = b"".join(bytes([len(label)]) + label for label in b"portpool.test".split(b".")) + b"\0"
query = struct.pack(">HHHHHH", 0x5050, 0x0100, 1, 0, 0, 0) + name + struct.pack(">HH", 1, 1)
deadline = time.monotonic() + 20
while True:
    try:
        if transport == "udp":
            client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            client.settimeout(0.2)
            client.sendto(query, ("127.0.0.1", port))
            answer = client.recv(512)
        else:
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.sendall(struct.pack(">H", len(query)) + query)
            answer = client.recv(514)[2:]
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("no answer from the DNS server")
        time.sleep(0.02)
identifier, flags, questions, answers = struct.unpack(">HHHH", answer[:8])
assert identifier == 0x5050 and answers >= 1, answer
print(socket.inet_ntoa(answer[-4:]))
)";

std::string dns_answer(const std::string& python, const std::string& script, std::uint16_t port,
                       const std::string& transport) {
  auto client = ChildProcess::spawn({python, script, std::to_string(port), transport});
  client.close_stdin();
  auto result = finish(client);
  return result.exit_code == 0 ? result.out : "failed: " + result.err;
}

}  // namespace

TEST_CASE("run --socket passes a udp service's bound datagram socket as descriptor 3, kept across restarts") {
  auto python = installed("python3");
  if (!python) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  UdpFixture fixture("udp");
  auto server = fixture.script("server.py", datagram_server);
  auto run = spawn_portpool(
      fixture.run_arguments({"--socket", "--restart", "on-failure", "--restart-delay", "10ms"}, {*python, server}));
  auto first = line_after(run, "SERVING ");
  REQUIRE(first);
  std::istringstream fields(*first);
  std::string pid;
  unsigned port = 0;
  std::string inode;
  std::string count;
  std::string names;
  fields >> pid >> port >> inode >> count >> names;
  CHECK(port == fixture.ports[0]);
  CHECK(count == "1");
  CHECK(names == "voice");
  const auto served = static_cast<std::uint16_t>(port);
  CHECK(exchange(served, "hello") == pid + " hello");
  CHECK(portpool::test::bind_udp_on_address("127.0.0.1", served).get() < 0);  // portpool's socket has it

  // The server exits (3): the next run gets the very same socket, and a datagram sent between the
  // two runs waits in it for the next.
  CHECK(exchange(served, "exit") == pid + " exit");
  auto queued = exchange(served, "queued while restarting", 20s);
  CHECK(queued.value_or("").find(" queued while restarting") != std::string::npos);
  auto second = line_after(run, "SERVING ");
  REQUIRE(second);
  std::istringstream second_fields(*second);
  std::string second_pid;
  unsigned second_port = 0;
  std::string second_inode;
  second_fields >> second_pid >> second_port >> second_inode;
  CHECK(second_pid != pid);
  CHECK(second_port == port);
  CHECK(second_inode == inode);
  CHECK(exchange(served, "again") == second_pid + " again");

  run.signal(SIGTERM);
  auto result = finish(run);
  CHECK_THAT(result.err, Contains("portpool: voice holds UDP port " + std::to_string(port) + " (instance 1)"));
  CHECK_THAT(result.err, Contains("restarting it (1 of no limit), port " + std::to_string(port) + " stays held"));
  CHECK(fixture.nothing_held());
  CHECK(portpool::test::bind_udp_on_address("127.0.0.1", served).get() >= 0);
}

TEST_CASE("run --socket --ready notify of a udp service: SIGHUP reloads CMD on the same datagram socket") {
  auto python = installed("python3");
  if (!python) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  UdpFixture fixture("udp");
  auto server = fixture.script("server.py", datagram_server);
  auto run = spawn_portpool(fixture.run_arguments({"--socket", "--ready", "notify", "--json"}, {*python, server}));
  auto first = line_after(run, "SERVING ");
  REQUIRE(first);
  auto first_pid = first->substr(0, first->find(' '));
  auto port = fixture.ports[0];
  CHECK(exchange(port, "before") == first_pid + " before");
  CHECK(wait_until([&] {
    auto listed = holders(fixture.dir.lock_dir());
    return listed.size() == 1 && listed[0].value("readiness", "") == "ready";
  }));

  run.signal(SIGHUP);
  auto second = line_after(run, "SERVING ");
  REQUIRE(second);
  auto second_pid = second->substr(0, second->find(' '));
  CHECK(second_pid != first_pid);
  // Once the new copy is ready the old one is stopped: from then on the new one answers alone.
  CHECK(wait_until([&] { return ::kill(std::stoi(first_pid), 0) != 0; }));
  CHECK(exchange(port, "after") == second_pid + " after");

  run.signal(SIGTERM);
  auto result = finish(run);
  CHECK_THAT(result.err, Contains("portpool: reloaded"));
  auto held = nlohmann::json::parse(result.err.substr(0, result.err.find('\n')));
  CHECK(held.at("event") == "held");
  CHECK(held.at("port") == port);
  CHECK(held.at("transport") == "udp");
  CHECK(fixture.nothing_held());
}

TEST_CASE("run --socket of a udp service stops CMD when its lock file is deleted (--on-lost term)") {
  auto python = installed("python3");
  if (!python) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  UdpFixture fixture("udp");
  auto server = fixture.script("server.py", datagram_server);
  auto run = spawn_portpool(fixture.run_arguments({"--socket", "--quiet"}, {*python, server}));
  REQUIRE(line_after(run, "SERVING "));
  std::filesystem::remove(fixture.dir.lock_file(fixture.ports[0]));
  auto result = finish(run);
  CHECK(result.exit_code == 69);  // the port was lost: CMD (killed by SIGTERM) was ended
  CHECK_THAT(result.err, Contains("port " + std::to_string(fixture.ports[0]) + " of 'voice' is lost: "));
  CHECK_THAT(result.err, Contains("CMD ended with status 143 after its port was lost"));
  CHECK_THAT(result.err, Contains("stopping the command (SIGTERM)"));
}

TEST_CASE("run --socket of a both service: descriptor 3 listens on TCP, 4 is bound for UDP, LISTEN_FDNAMES=tcp:udp") {
  auto python = installed("python3");
  if (!python) {
    PORTPOOL_SKIP("needs python3 (Debian: python3)");
  }
  UdpFixture fixture("both");
  auto server = fixture.script("server.py", tcp_and_udp_server);
  auto run = spawn_portpool(fixture.run_arguments({"--socket"}, {*python, server}));
  auto given = line_after(run, "GIVEN ");
  REQUIRE(given);
  auto port = std::to_string(fixture.ports[0]);
  CHECK(*given == "2 tcp:udp True 1 True " + port + " " + port);
  CHECK(portpool::test::answer_of(fixture.ports[0]) == "tcp answer");
  CHECK(exchange(fixture.ports[0], "a datagram") == "udp answer to a datagram");
  auto result = finish(run);
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.err, Contains("portpool: voice holds TCP and UDP port " + port));
  CHECK(fixture.nothing_held());
}

TEST_CASE("dnsmasq under run answers DNS over UDP and TCP on the pool port of a both service") {
  auto dnsmasq = installed("dnsmasq");
  auto python = installed("python3");
  if (!dnsmasq || !python) {
    PORTPOOL_SKIP("needs dnsmasq and python3 (Debian: dnsmasq-base python3)");
  }
  UdpFixture fixture("both");
  auto query = fixture.script("query.py", dns_query);
  const passwd* user = ::getpwuid(::geteuid());
  REQUIRE(user != nullptr);
  // dnsmasq binds {port} itself on TCP and UDP: the lock keeps the port, the shield watches it.
  auto run = spawn_portpool(fixture.run_arguments(
      {"--quiet"}, {*dnsmasq, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
                    "--address=/portpool.test/127.0.0.9", "--pid-file=", std::string("--user=") + user->pw_name}));
  CHECK(dns_answer(*python, query, fixture.ports[0], "udp") == "127.0.0.9\n");
  CHECK(dns_answer(*python, query, fixture.ports[0], "tcp") == "127.0.0.9\n");
  auto listed = holders(fixture.dir.lock_dir());
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].at("port") == fixture.ports[0]);
  run.signal(SIGTERM);
  finish(run);
  CHECK(fixture.nothing_held());
}

TEST_CASE("socat under run echoes datagrams on the pool port of a udp service") {
  auto socat = installed("socat");
  if (!socat) {
    PORTPOOL_SKIP("needs socat (Debian: socat)");
  }
  UdpFixture fixture("udp");
  auto run = spawn_portpool(fixture.run_arguments({}, {*socat, "UDP4-RECVFROM:{port},bind=127.0.0.1,fork", "PIPE"}));
  CHECK(exchange_once_served(fixture.ports[0], "echo me") == "echo me");
  CHECK(exchange(fixture.ports[0], "and me") == "and me");
  // socat's signal handler leaves the exit to its main loop (a message to itself), and a signal that
  // comes while socat is between two datagrams' children can be left unanswered (seen once, run
  // forwarding the SIGTERM and waiting for socat): the test asks again until run ends, as a user
  // would.
  REQUIRE(wait_until(
      [&run] {
        run.signal(SIGTERM);
        return wait_until([&run] { return run.exited(); }, 5s);
      },
      120s));
  auto result = finish(run);
  CHECK_THAT(result.err, Contains("portpool: voice holds UDP port " + std::to_string(fixture.ports[0])));
  CHECK(fixture.nothing_held());
}

TEST_CASE("lease --socket-path hands a udp service's bound datagram socket, and a both service's two sockets") {
  SECTION("udp") {
    UdpFixture fixture("udp");
    auto path = fixture.dir.path() / "voice.sock";
    auto lease = spawn_portpool(fixture.lease_arguments({"--socket-path", path.string()}));
    REQUIRE(lease.read_line());
    auto [sockets, text] = receive_sockets(path);
    CHECK(text == std::to_string(fixture.ports[0]) + "\n");
    REQUIRE(sockets.size() == 1);
    CHECK(socket_option(sockets[0].get(), SO_TYPE) == SOCK_DGRAM);
    CHECK(portpool::test::bound_port(sockets[0].get()) == fixture.ports[0]);
    lease.close_stdin();
    CHECK(finish(lease).exit_code == 0);
  }
  SECTION("both") {
    UdpFixture fixture("both");
    auto path = fixture.dir.path() / "voice.sock";
    auto lease = spawn_portpool(fixture.lease_arguments({"--socket-path", path.string()}));
    REQUIRE(lease.read_line());
    auto [sockets, text] = receive_sockets(path);
    CHECK(text == std::to_string(fixture.ports[0]) + "\n");
    REQUIRE(sockets.size() == 2);
    CHECK(socket_option(sockets[0].get(), SO_TYPE) == SOCK_STREAM);
    CHECK(socket_option(sockets[0].get(), SO_ACCEPTCONN) == 1);
    CHECK(socket_option(sockets[1].get(), SO_TYPE) == SOCK_DGRAM);
    CHECK(portpool::test::bound_port(sockets[0].get()) == fixture.ports[0]);
    CHECK(portpool::test::bound_port(sockets[1].get()) == fixture.ports[0]);
    lease.close_stdin();
    CHECK(finish(lease).exit_code == 0);
  }
}

TEST_CASE("a udp and a tcp service drawing from one range never get the same port") {
  // One table may not overlap two pools: two tables (of two applications) share the lock directory.
  TempDir dir;
  auto ports = ReservedPorts::consecutive(2);
  auto range = "range = [" + std::to_string(ports[0]) + ", " + std::to_string(ports[1]) + "]\n";
  auto udp_config = write_config(dir, "[services.discovery]\n" + range + "transport = \"udp\"\n", "udp.toml");
  auto tcp_config = write_config(dir, "[services.web]\n" + range, "tcp.toml");
  auto lease = [&](const std::filesystem::path& config, const std::vector<std::string>& options,
                   const std::string& service) {
    std::vector<std::string> arguments{"lease", "--config", config.string(), "--lock-dir", dir.lock_dir().string()};
    arguments.insert(arguments.end(), options.begin(), options.end());
    arguments.push_back(service);
    return arguments;
  };
  auto discovery = spawn_portpool(lease(udp_config, {}, "discovery"));
  auto web = spawn_portpool(lease(tcp_config, {}, "web"));
  auto discovery_line = discovery.read_line();
  auto web_line = web.read_line();
  REQUIRE(discovery_line);
  REQUIRE(web_line);
  CHECK(nlohmann::json::parse(*discovery_line).at("port") != nlohmann::json::parse(*web_line).at("port"));

  // The range is used up for every transport: the tcp service taken as udp finds no port.
  auto third = run_portpool(lease(tcp_config, {"--transport", "udp"}, "web"));
  CHECK(third.exit_code == 75);
  discovery.close_stdin();
  web.close_stdin();
  CHECK(finish(discovery).exit_code == 0);
  CHECK(finish(web).exit_code == 0);

  // And the same service, taken once as udp and once as tcp, gets two ports.
  auto as_udp = spawn_portpool(lease(tcp_config, {"--transport", "udp"}, "web"));
  auto as_tcp = spawn_portpool(lease(tcp_config, {"--transport", "tcp"}, "web"));
  auto udp_line = as_udp.read_line();
  auto tcp_line = as_tcp.read_line();
  REQUIRE(udp_line);
  REQUIRE(tcp_line);
  CHECK(nlohmann::json::parse(*udp_line).at("port") != nlohmann::json::parse(*tcp_line).at("port"));
  as_udp.close_stdin();
  as_tcp.close_stdin();
  CHECK(finish(as_udp).exit_code == 0);
  CHECK(finish(as_tcp).exit_code == 0);
}

TEST_CASE("both is refused while either protocol of the only port is taken by another program") {
  TempDir dir;
  ReservedPorts ports = ReservedPorts::any(1);
  auto config = portpool::test::shared_pool_config(dir, "dns", ports.ports());
  auto lease = [&](const std::string& transport) {
    auto process = spawn_portpool(
        {"lease", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), "--transport", transport, "dns"});
    process.close_stdin();
    return finish(process);
  };
  SECTION("a foreign UDP socket") {
    auto foreign = portpool::test::bind_udp_on_address("127.0.0.1", ports[0]);
    REQUIRE(foreign.get() >= 0);
    auto both = lease("both");
    CHECK(both.exit_code == 75);
    CHECK_THAT(both.err, Contains("UDP socket bound to 127.0.0.1:" + std::to_string(ports[0])));
    CHECK(lease("udp").exit_code == 75);
    CHECK(lease("tcp").exit_code == 0);  // TCP alone is free
  }
  SECTION("a foreign TCP listener") {
    auto foreign = portpool::test::listen_on(ports[0]);
    CHECK(lease("both").exit_code == 75);
    CHECK(lease("tcp").exit_code == 75);
    CHECK(lease("udp").exit_code == 0);  // UDP alone is free
  }
}

TEST_CASE("run and lease take --transport tcp, udp or both, and run refuses --ready accept for a udp service") {
  UdpFixture fixture("udp");
  auto wrong = run_portpool(fixture.lease_arguments({"--transport", "sctp"}));
  CHECK(wrong.exit_code == 64);
  CHECK_THAT(wrong.err, Contains("'sctp' is not a transport: give tcp, udp or both"));
  auto run_wrong = run_portpool(fixture.run_arguments({"--transport", "UDP"}, {"/bin/true"}));
  CHECK(run_wrong.exit_code == 64);
  CHECK_THAT(run_wrong.err, Contains("'UDP' is not a transport"));
  auto accept = run_portpool(fixture.run_arguments({"--ready", "accept"}, {"/bin/true"}));
  CHECK(accept.exit_code == 64);
  CHECK_THAT(accept.err, Contains("--ready accept waits for a TCP connection"));
  CHECK_THAT(accept.err, Contains("use --ready notify"));
  // --transport overrides the table: the udp service taken as tcp says so.
  auto as_tcp = run_portpool(fixture.run_arguments({"--transport", "tcp"}, {"/bin/true"}));
  CHECK(as_tcp.exit_code == 0);
  CHECK_THAT(as_tcp.err, Contains("portpool: voice holds port " + std::to_string(fixture.ports[0])));
  CHECK(holders(fixture.dir.lock_dir()).empty());
}
