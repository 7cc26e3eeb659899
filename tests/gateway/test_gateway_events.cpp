// The gateway's view of the described registry: descriptions in /api/services, health probes of
// described holders, the live event stream (WebSocket and server-sent events), /api/pools and
// the dashboard page.

#include "event_clients.hpp"
#include "gateway_process.hpp"
#include "holder.hpp"
#include "http_client.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <portpool/asio.hpp>

#include <signal.h>

#include <catch2/catch.hpp>

#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace portpool::test;
using Catch::Matchers::Contains;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

portpool::Options options_for(const std::filesystem::path& lock_dir) {
  portpool::Options options;
  options.lock_dir = lock_dir;
  return options;
}

nlohmann::json entry_for_port(const nlohmann::json& list, std::uint16_t port) {
  for (const auto& entry : list) {
    if (entry.at("port") == port) {
      return entry;
    }
  }
  return nullptr;
}

/// A table with the gateway's pool and a second service, "worker", with `worker_ports`.
std::filesystem::path write_two_pools(const TempDir& directory, std::uint16_t gateway_port,
                                      const std::vector<std::uint16_t>& worker_ports) {
  auto path = directory.path() / "ports.toml";
  std::ofstream file(path);
  file << "[services.api-server]\nports = [" << gateway_port << "]\n\n[services.worker]\nports = [";
  for (std::size_t index = 0; index < worker_ports.size(); ++index) {
    file << (index == 0 ? "" : ", ") << worker_ports[index];
  }
  file << "]\n";
  return path;
}

/// Serves one HTTP request on `acceptor` with 200 and returns its request line.
std::future<std::string> answer_one_request(boost::asio::ip::tcp::acceptor& acceptor) {
  return std::async(std::launch::async, [&acceptor] {
    auto socket = acceptor.accept();
    boost::asio::streambuf request;
    boost::asio::read_until(socket, request, "\r\n\r\n");
    std::string line;
    std::istream text(&request);
    std::getline(text, line);
    std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    boost::asio::write(socket, boost::asio::buffer(reply));
    return line.substr(0, line.find('\r'));
  });
}

template <class Client>
void check_event_stream(Client& client, const TempDir& directory, const std::vector<std::uint16_t>& worker_ports,
                        std::uint16_t gateway_port) {
  nlohmann::json snapshot = client.next_change();
  REQUIRE(snapshot.at("type") == "snapshot");
  REQUIRE(snapshot.at("holders").size() == 1);
  CHECK(snapshot.at("holders")[0].at("port") == gateway_port);
  CHECK(snapshot.at("holders")[0].at("protocol") == "http");

  auto options = options_for(directory.lock_dir());
  options.description.protocol = "tcp";
  options.description.tags = {"batch"};
  portpool::PortPoolManager manager("worker", {worker_ports[0]}, options);
  milliseconds slowest{0};
  auto started = steady_clock::now();
  auto lease = manager.acquire();
  nlohmann::json acquired = client.next_change();
  slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(steady_clock::now() - started));
  CHECK(acquired.at("type") == "acquired");
  CHECK(acquired.at("port") == worker_ports[0]);
  CHECK(acquired.at("holder").at("pid") == ::getpid());
  CHECK(acquired.at("holder").at("tags") == nlohmann::json::array({"batch"}));

  started = steady_clock::now();
  lease.release();
  nlohmann::json released = client.next_change();
  slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(steady_clock::now() - started));
  CHECK(released.at("type") == "released");
  CHECK(released.at("port") == worker_ports[0]);

  auto child = spawn_port_holder(directory.lock_dir(), "worker", {worker_ports[1]});
  REQUIRE(acquired_by(child) == worker_ports[1]);
  nlohmann::json child_acquired = client.next_change();
  CHECK(child_acquired.at("type") == "acquired");
  CHECK(child_acquired.at("holder").at("pid") == child.pid());
  started = steady_clock::now();
  child.signal(SIGKILL);
  nlohmann::json lost = client.next_change();
  slowest = std::max(slowest, std::chrono::duration_cast<milliseconds>(steady_clock::now() - started));
  CHECK(lost.at("type") == "lost");
  CHECK(lost.at("port") == worker_ports[1]);
  CHECK_THAT(lost.at("reason").get<std::string>(), Contains("ended without releasing it"));
  child.wait();
  // Reported, not checked: the target is 50 ms (docs/api_gateway.md), and a functional test on a
  // shared machine is no measurement.
  WARN("slowest of acquired, released, lost: " << slowest.count() << " ms after the change (not checked)");
}

}  // namespace

TEST_CASE("/api/services shows each holder's description, the gateway's own included") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto gateway = Gateway::start(write_two_pools(directory, ports[0], {ports[1]}), directory.lock_dir());
  auto options = options_for(directory.lock_dir());
  options.description.protocol = "grpc";
  options.description.version = "3.1";
  options.description.metadata = {{"type", "llm"}};
  portpool::PortPoolManager manager("worker", {ports[1]}, options);
  auto lease = manager.acquire();

  auto services = http_get(gateway.port(), "/api/services").json().at("services");
  auto own = entry_for_port(services, gateway.port());
  CHECK(own.at("protocol") == "http");
  CHECK(own.at("health") == "/api/health");
  CHECK(own.at("tags") == nlohmann::json::array({"gateway"}));
  auto worker = entry_for_port(services, ports[1]);
  CHECK(worker.at("protocol") == "grpc");
  CHECK(worker.at("version") == "3.1");
  CHECK(worker.at("health").is_null());
  CHECK(worker.at("meta") == nlohmann::json({{"type", "llm"}}));
}

TEST_CASE("aggregated health probes a holder on the health path it declares, without any flag") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto gateway = Gateway::start(write_two_pools(directory, ports[0], {ports[1], ports[2]}), directory.lock_dir());

  boost::asio::io_context io;
  auto options = options_for(directory.lock_dir());
  options.description.protocol = "http";
  options.description.health_path = "/status/live?full=1";
  portpool::PortPoolManager described("worker", {ports[1]}, options);
  auto listening = described.acquire_listening(io.get_executor());
  auto request_line = answer_one_request(listening.acceptor);
  auto plain_options = options_for(directory.lock_dir());
  plain_options.description.protocol = "grpc";
  plain_options.description.health_path = "/grpc.health.v1.Health/Check";
  portpool::PortPoolManager not_http("worker", {ports[2]}, plain_options);
  auto other = not_http.acquire();

  auto report = http_get(gateway.port(), "/api/health/aggregated").json();
  REQUIRE(request_line.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  CHECK(request_line.get() == "GET /status/live?full=1 HTTP/1.1");
  auto probed = entry_for_port(report.at("services"), ports[1]);
  REQUIRE(probed.is_object());
  CHECK(probed.at("status") == "up");
  CHECK(probed.at("probed_path") == "/status/live?full=1");
  CHECK(probed.at("protocol") == "http");
  CHECK(entry_for_port(report.at("services"), gateway.port()).at("status") == "up");
  CHECK(entry_for_port(report.at("not_probed"), ports[2]).at("protocol") == "grpc");
}

TEST_CASE("a WebSocket client gets the snapshot, then acquired, released and lost, in order") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto gateway = Gateway::start(write_two_pools(directory, ports[0], {ports[1], ports[2]}), directory.lock_dir());
  WebSocketEvents client(gateway.port());
  check_event_stream(client, directory, {ports[1], ports[2]}, gateway.port());
}

TEST_CASE("a server-sent-events client gets the same stream") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto gateway = Gateway::start(write_two_pools(directory, ports[0], {ports[1], ports[2]}), directory.lock_dir());
  ServerSentEvents client(gateway.port());
  CHECK_THAT(client.header(), Contains("HTTP/1.1 200 OK"));
  CHECK_THAT(client.header(), Contains("Content-Type: text/event-stream"));
  check_event_stream(client, directory, {ports[1], ports[2]}, gateway.port());
}

TEST_CASE("event subscribers are closed at shutdown, and the gateway still exits 0") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());
  WebSocketEvents websocket(gateway.port());
  ServerSentEvents events(gateway.port());
  CHECK(websocket.next().at("type") == "snapshot");
  CHECK(events.next().at("type") == "snapshot");
  gateway.process().signal(SIGTERM);
  REQUIRE(gateway.wait_for_event("stopped").has_value());
  CHECK(gateway.process().exit_code() == 0);
  CHECK_THROWS(websocket.next_change());  // closed, not left hanging
  CHECK_THROWS(events.next_change());
}

TEST_CASE("/api/pools shows every pool port as held, used by another program, or free") {
  TempDir directory;
  auto ports = ReservedPorts::any(4);
  auto gateway =
      Gateway::start(write_two_pools(directory, ports[0], {ports[1], ports[2], ports[3]}), directory.lock_dir());
  auto holder = spawn_port_holder(directory.lock_dir(), "worker", {ports[1]});
  REQUIRE(acquired_by(holder) == ports[1]);
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor foreign(io, {boost::asio::ip::address_v4::loopback(), ports[2]});

  auto pools = http_get(gateway.port(), "/api/pools").json();
  CHECK(pools.at("instance") == 1);
  REQUIRE(pools.at("pools").size() == 2);
  const auto& worker = pools.at("pools")[1];
  CHECK(worker.at("service") == "worker");
  CHECK(entry_for_port(worker.at("ports"), ports[1]).at("state") == "held");
  CHECK(entry_for_port(worker.at("ports"), ports[1]).at("holder").at("pid") == holder.pid());
  CHECK(entry_for_port(worker.at("ports"), ports[2]).at("state") == "in_use");
  CHECK_THAT(entry_for_port(worker.at("ports"), ports[2]).at("detail").get<std::string>(),
             Contains("outside portpool"));
  CHECK(entry_for_port(worker.at("ports"), ports[3]).at("state") == "free");
  CHECK(entry_for_port(pools.at("pools")[0].at("ports"), gateway.port()).at("state") == "held");
  CHECK(worker.at("transport") == "tcp");
}

TEST_CASE("/api/pools probes a udp pool for UDP sockets: a TCP listener leaves its port free, a UDP socket not") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto path = directory.path() / "ports.toml";
  std::ofstream(path) << "[services.api-server]\nports = [" << ports[0] << "]\n\n[services.dns]\nports = [" << ports[1]
                      << ", " << ports[2] << "]\ntransport = \"udp\"\n";
  auto gateway = Gateway::start(path, directory.lock_dir());
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor tcp_listener(io, {boost::asio::ip::address_v4::loopback(), ports[1]});
  auto udp_socket = bind_udp_on_address("127.0.0.1", ports[2]);
  REQUIRE(udp_socket);

  auto pools = http_get(gateway.port(), "/api/pools").json();
  REQUIRE(pools.at("pools").size() == 2);
  CHECK(pools.at("pools")[0].at("transport") == "tcp");
  const auto& dns = pools.at("pools")[1];
  CHECK(dns.at("service") == "dns");
  CHECK(dns.at("transport") == "udp");
  CHECK(entry_for_port(dns.at("ports"), ports[1]).at("state") == "free");
  CHECK(entry_for_port(dns.at("ports"), ports[2]).at("state") == "in_use");
  CHECK_THAT(entry_for_port(dns.at("ports"), ports[2]).at("detail").get<std::string>(),
             Contains("UDP socket bound to"));
}

TEST_CASE("/api/pools shows a port that browsers refuse as blocked, unless the table allows it") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto path = directory.path() / "ports.toml";
  std::ofstream(path) << "[services.api-server]\nports = [" << ports[0] << "]\n[services.x11]\nports = [6000]\n"
                      << "[services.x11-allowed]\nports = [6001]\nallow_fetch_blocked_ports = true\n";
  auto gateway = Gateway::start(path, directory.lock_dir());
  auto pools = http_get(gateway.port(), "/api/pools").json().at("pools");
  CHECK(pools[1].at("ports")[0].at("state") == "blocked");
  CHECK(pools[2].at("ports")[0].at("state") != "blocked");
}

TEST_CASE("GET / serves the self-contained dashboard") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());
  auto page = http_get(gateway.port(), "/");
  CHECK(page.status == 200);
  CHECK(page.headers[http::field::content_type] == "text/html; charset=utf-8");
  CHECK_THAT(std::string(page.headers["Content-Security-Policy"]), Contains("default-src 'none'"));
  CHECK_THAT(page.body, Contains("<title>portpool dashboard</title>"));
  CHECK_THAT(page.body, Contains("/api/events"));
  CHECK(page.body.find("http://") == std::string::npos);  // nothing from elsewhere
  CHECK(page.body.find("https://") == std::string::npos);
}

TEST_CASE("the dashboard, /api/pools and /api/events refuse other sites and rebound host names") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());
  auto port = std::to_string(gateway.port());
  auto request = [&](const std::string& target, const std::string& host, const std::string& origin) {
    auto text = "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\n" +
                (origin.empty() ? std::string() : "Origin: " + origin + "\r\n") + "Connection: close\r\n\r\n";
    return raw_exchange(gateway.port(), text);
  };
  for (const std::string target : {"/", "/api/pools", "/api/events"}) {
    CAPTURE(target);
    CHECK_THAT(request(target, "attacker.example:" + port, ""), Contains("HTTP/1.1 403"));
    CHECK_THAT(request(target, "127.0.0.1:" + port, "http://attacker.example"), Contains("HTTP/1.1 403"));
    CHECK_THAT(request(target, "127.0.0.1:" + port, "http://attacker.example"),
               Contains("Origin 'http://attacker.example' is not allowed"));
  }
  CHECK_THAT(request("/", "localhost:" + port, "http://localhost:" + port), Contains("HTTP/1.1 200"));
  CHECK_THROWS(WebSocketEvents(gateway.port(), std::chrono::seconds(10), "http://attacker.example"));
  WebSocketEvents same_site(gateway.port(), std::chrono::seconds(10), "http://127.0.0.1:" + port);
  CHECK(same_site.next().at("type") == "snapshot");
}
