// End-to-end tests of examples/api_gateway, as a user runs it: real gateway processes on test
// ports chosen at run time, real HTTP requests, real signals.

#include "gateway_process.hpp"
#include "holder.hpp"
#include "http_client.hpp"
#include "ports.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

#include <portpool/portpool.hpp>

#include <poll.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

using namespace portpool::test;

namespace {

portpool::Options options_for(const std::filesystem::path& lock_dir) {
  portpool::Options options;
  options.lock_dir = lock_dir;
  return options;
}

/// The entry of `list` (a JSON array of holders) for `port`; null when there is none.
nlohmann::json entry_for_port(const nlohmann::json& list, std::uint16_t port) {
  for (const auto& entry : list) {
    if (entry.at("port") == port) {
      return entry;
    }
  }
  return nullptr;
}

bool has_pending_connection(int listening_socket) {
  pollfd ready{listening_socket, POLLIN, 0};
  return ::poll(&ready, 1, 0) == 1;
}

bool port_is_free(const std::filesystem::path& lock_dir, std::uint16_t port) {
  portpool::PortPoolManager manager("api-server", {port}, options_for(lock_dir));
  return manager.try_acquire().has_value();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a gateway serves its health on the first port of its pool") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());

  CHECK(gateway.port() == ports[0]);
  CHECK(gateway.instance() == 1);
  auto reply = http_get(gateway.port(), "/api/health");
  REQUIRE(reply.status == 200);
  CHECK(reply.headers[http::field::content_type] == "application/json");
  auto health = reply.json();
  CHECK(health["status"] == "ok");
  CHECK(health["service"] == "api-server");
  CHECK(health["port"] == gateway.port());
  CHECK(health["instance"] == 1);
  CHECK(health["pool"] == nlohmann::json(ports.ports()));
  CHECK(health["uptime_seconds"].get<double>() >= 0);
}

TEST_CASE("three gateways take the three ports of the pool, one each, in instance order") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto config = write_table(directory, ports.ports());
  auto first = Gateway::start(config, directory.lock_dir());
  auto second = Gateway::start(config, directory.lock_dir());
  auto third = Gateway::start(config, directory.lock_dir());

  CHECK(first.port() == ports[0]);
  CHECK(second.port() == ports[1]);
  CHECK(third.port() == ports[2]);
  CHECK(third.instance() == 3);
  for (auto* gateway : {&first, &second, &third}) {
    CHECK(http_get(gateway->port(), "/api/health").json()["port"] == gateway->port());
  }
}

TEST_CASE("a gateway given --instance N uses instance N without taking its number from the instance manager") {
  TempDir directory;
  auto ports = ReservedPorts::any(3);
  auto config = write_table(directory, ports.ports());
  auto explicit_second = Gateway::start(config, directory.lock_dir(), {"--instance", "2"});
  auto automatic = Gateway::start(config, directory.lock_dir(), {"--instance", "auto"});

  CHECK(explicit_second.instance() == 2);
  CHECK(explicit_second.port() == ports[1]);  // a shared pool is searched from index N-1
  CHECK(automatic.instance() == 1);
  CHECK(automatic.port() == ports[0]);
}

TEST_CASE("PORTPOOL_LOCK_DIR chooses the lock directory when --lock-dir is not given") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto config = write_table(directory, ports.ports());
  auto gateway = Gateway::spawn_with_environment({"PORTPOOL_LOCK_DIR=" + directory.lock_dir().string()},
                                                 {"--config", config.string()});
  gateway.wait_until_started();

  auto holders = portpool::Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == gateway.pid());
  CHECK(holders[0].port == ports[0]);
}

TEST_CASE("/api/services lists every live holder of the lock directory, with its transport") {
  TempDir directory;
  auto ports = ReservedPorts::any(4);
  auto config = write_table(directory, {ports[0], ports[1]});
  auto first = Gateway::start(config, directory.lock_dir());
  auto second = Gateway::start(config, directory.lock_dir());
  auto other = spawn_port_holder(directory.lock_dir(), "mcp-universal", {ports[2]});
  REQUIRE(acquired_by(other) == ports[2]);
  portpool::Options udp_options;
  udp_options.lock_dir = directory.lock_dir();
  udp_options.transport = portpool::Transport::udp;
  auto udp_lease = portpool::PortPoolManager("dns", {ports[3]}, udp_options).acquire();

  auto services = http_get(first.port(), "/api/services").json();
  CHECK(services["lock_dir"] == directory.lock_dir().string());
  CHECK(services["count"] == 4);
  auto expect_holder = [&](std::uint16_t port, const std::string& service, pid_t pid, const std::string& transport) {
    auto entry = entry_for_port(services["services"], port);
    REQUIRE(entry.is_object());
    CHECK(entry["service"] == service);
    CHECK(entry["pid"] == pid);
    CHECK(entry["since"].is_string());
    CHECK(entry["transport"] == transport);
  };
  expect_holder(first.port(), "api-server", first.pid(), "tcp");
  expect_holder(second.port(), "api-server", second.pid(), "tcp");
  expect_holder(ports[2], "mcp-universal", other.pid(), "tcp");
  expect_holder(ports[3], "dns", ::getpid(), "udp");
}

TEST_CASE("aggregated health probes every gateway, itself included, and reports one that does not answer as down") {
  TempDir directory;
  auto ports = ReservedPorts::any(4);
  auto config = write_table(directory, {ports[0], ports[1]});
  auto first = Gateway::start(config, directory.lock_dir());
  auto second = Gateway::start(config, directory.lock_dir());

  auto all_up = http_get(first.port(), "/api/health/aggregated").json();
  CHECK(all_up["status"] == "up");
  CHECK(all_up["up"] == 2);
  CHECK(all_up["down"] == 0);
  auto self = entry_for_port(all_up["services"], first.port());
  REQUIRE(self.is_object());
  CHECK(self["self"] == true);
  CHECK(self["status"] == "up");
  CHECK(self["latency_ms"].is_number());
  CHECK(entry_for_port(all_up["services"], second.port())["status"] == "up");

  // An api-server holder with nothing listening, and a holder of a service without a health endpoint.
  auto silent = spawn_port_holder(directory.lock_dir(), "api-server", {ports[2]});
  REQUIRE(acquired_by(silent) == ports[2]);
  auto other = spawn_port_holder(directory.lock_dir(), "mcp-universal", {ports[3]});
  REQUIRE(acquired_by(other) == ports[3]);

  auto degraded = http_get(second.port(), "/api/health/aggregated").json();
  CHECK(degraded["status"] == "degraded");
  CHECK(degraded["up"] == 2);
  CHECK(degraded["down"] == 1);
  auto down = entry_for_port(degraded["services"], ports[2]);
  REQUIRE(down.is_object());
  CHECK(down["status"] == "down");
  CHECK_FALSE(down["detail"].get<std::string>().empty());
  CHECK(entry_for_port(degraded["services"], ports[3]).is_null());
  CHECK(entry_for_port(degraded["not_probed"], ports[3])["service"] == "mcp-universal");
}

TEST_CASE("a gateway given --health-service adds a service to the aggregated health probes") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto other = spawn_port_holder(directory.lock_dir(), "mcp-universal", {ports[1]});
  REQUIRE(acquired_by(other) == ports[1]);
  auto gateway =
      Gateway::start(write_table(directory, {ports[0]}), directory.lock_dir(), {"--health-service", "mcp-universal"});

  auto report = http_get(gateway.port(), "/api/health/aggregated").json();
  CHECK(entry_for_port(report["services"], ports[1])["status"] == "down");
  CHECK(report["not_probed"].empty());
}

TEST_CASE("tracing stats count requests, errors and latencies per route") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());
  HttpClient client(gateway.port());
  for (int request = 0; request < 3; ++request) {
    REQUIRE(client.get("/api/health").status == 200);
  }
  REQUIRE(client.get("/api/services").status == 200);
  REQUIRE(client.get("/nowhere").status == 404);
  REQUIRE(client.get("/api/nothing").status == 404);
  REQUIRE(client.request(http::verb::post, "/api/health", "{}").status == 405);

  auto stats = client.get("/api/tracing/stats").json();
  auto health = stats["routes"]["/api/health"];
  CHECK(health["requests"] == 4);
  CHECK(health["errors"] == 1);
  CHECK(health["statuses"]["200"] == 3);
  CHECK(health["statuses"]["405"] == 1);
  CHECK(stats["routes"]["/api/services"]["requests"] == 1);
  CHECK(stats["routes"]["(no route)"]["requests"] == 2);
  CHECK(stats["routes"]["(no route)"]["errors"] == 2);
  CHECK(stats["total"]["requests"] == 7);
  auto latency = health["latency_ms"];
  CHECK(latency["p50"].get<double>() >= 0);
  CHECK(latency["p50"].get<double>() <= latency["p90"].get<double>());
  CHECK(latency["p90"].get<double>() <= latency["p99"].get<double>());
  CHECK(latency["p99"].get<double>() <= latency["max"].get<double>());

  auto later = client.get("/api/tracing/stats").json();
  CHECK(later["routes"]["/api/tracing/stats"]["requests"] == 1);
}

TEST_CASE("unknown routes, wrong methods and unreadable requests get JSON errors, and the gateway keeps serving") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());
  auto port = gateway.port();

  auto not_found = http_get(port, "/api/unknown");
  CHECK(not_found.status == 404);
  CHECK(contains(not_found.json()["error"], "/api/unknown"));

  auto wrong_method = HttpClient(port).request(http::verb::delete_, "/api/services");
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.headers[http::field::allow] == "GET, HEAD");
  CHECK(contains(wrong_method.json()["error"], "use GET"));

  CHECK(http_get(port, "/api/health?verbose=1").status == 200);

  auto garbage = raw_exchange(port, "THIS IS NOT HTTP\r\n\r\n");
  CHECK(contains(garbage, "HTTP/1.1 400"));
  CHECK(contains(garbage, "malformed"));

  auto huge_header = raw_exchange(
      port, "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(100000, 'a') + "\r\n\r\n");
  CHECK(contains(huge_header, "HTTP/1.1 400"));
  CHECK(contains(huge_header, "header is larger than"));

  auto huge_body =
      raw_exchange(port, "POST /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n" +
                             std::string(1000, 'b'));
  CHECK(contains(huge_body, "HTTP/1.1 400"));
  CHECK(contains(huge_body, "body is larger than"));

  CHECK(raw_exchange(port, "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n").empty());  // the client gave up half-way

  auto pipelined = raw_exchange(port,
                                "GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                                "GET /api/services HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  CHECK(contains(pipelined, "\"status\": \"ok\""));
  CHECK(contains(pipelined, "\"lock_dir\""));

  CHECK(http_get(port, "/api/health").status == 200);
}

TEST_CASE("8 clients making 500 requests each on keep-alive connections all get answers") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());
  constexpr int clients = 8;
  constexpr int requests_per_client = 500;

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int client = 0; client < clients; ++client) {
    threads.emplace_back([&, client] {
      try {
        HttpClient connection(gateway.port());
        for (int request = 0; request < requests_per_client; ++request) {
          const auto* target = (client + request) % 10 == 0 ? "/api/services" : "/api/health";
          if (connection.get(target).status != 200) {
            ++failures;
          }
        }
      } catch (const std::exception&) {
        ++failures;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }

  CHECK(failures == 0);
  auto stats = http_get(gateway.port(), "/api/tracing/stats").json();
  CHECK(stats["total"]["requests"] == clients * requests_per_client);
  CHECK(stats["total"]["errors"] == 0);
}

TEST_CASE("SIGTERM: the request in flight is answered, then the port and the instance are released and the exit is 0") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto gateway = Gateway::start(write_table(directory, {ports[0]}), directory.lock_dir());
  // A registered api-server that accepts connections but never answers keeps the aggregated
  // health request in flight until the probe times out.
  auto slow = spawn_port_holder(directory.lock_dir(), "api-server", {ports[1]});
  REQUIRE(acquired_by(slow) == ports[1]);
  auto slow_listener = listen_on(ports[1]);

  HttpClient client(gateway.port());
  auto in_flight = std::async(std::launch::async, [&client] { return client.get("/api/health/aggregated"); });
  REQUIRE(wait_until([&] { return has_pending_connection(slow_listener.get()); }));
  gateway.process().signal(SIGTERM);

  auto reply = in_flight.get();
  CHECK(reply.status == 200);
  CHECK(entry_for_port(reply.json()["services"], ports[1])["status"] == "down");
  auto shutdown = gateway.wait_for_event("shutdown");
  REQUIRE(shutdown);
  CHECK((*shutdown)["signal"] == "SIGTERM");
  auto stopped = gateway.wait_for_event("stopped");
  REQUIRE(stopped);
  CHECK((*stopped)["released_port"] == ports[0]);
  CHECK(gateway.process().exit_code() == 0);

  CHECK(port_is_free(directory.lock_dir(), ports[0]));
  CHECK_NOTHROW(portpool::InstanceManager::acquire_number(options_for(directory.lock_dir()), 1));
  auto holders = portpool::Registry::holders(directory.lock_dir());
  REQUIRE(holders.size() == 1);
  CHECK(holders[0].pid == slow.pid());
}

TEST_CASE("SIGINT stops an idle gateway with exit code 0") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());
  HttpClient idle_keep_alive(gateway.port());
  REQUIRE(idle_keep_alive.get("/api/health").status == 200);

  gateway.process().signal(SIGINT);
  CHECK(gateway.process().exit_code() == 0);
  CHECK(port_is_free(directory.lock_dir(), ports[0]));
}

TEST_CASE("SIGKILL: a new gateway takes the port of a killed one at once") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto config = write_table(directory, ports.ports());
  auto killed = Gateway::start(config, directory.lock_dir());
  auto survivor = Gateway::start(config, directory.lock_dir());

  killed.process().signal(SIGKILL);
  REQUIRE(killed.process().exit_code() == 128 + SIGKILL);
  auto replacement = Gateway::start(config, directory.lock_dir());

  CHECK(replacement.port() == killed.port());
  CHECK(replacement.instance() == killed.instance());
  CHECK(http_get(replacement.port(), "/api/health").json()["port"] == killed.port());
  CHECK(http_get(survivor.port(), "/api/health").status == 200);
}

TEST_CASE("a gateway finding its pool exhausted is refused with the library's message and takes no other port") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto config = write_table(directory, ports.ports());
  auto first = Gateway::start(config, directory.lock_dir());
  auto second = Gateway::start(config, directory.lock_dir());

  auto refused = Gateway::spawn(config, directory.lock_dir());
  auto output = refused.finish_output();
  CHECK(refused.process().exit_code() == 75);
  CHECK(contains(output, "no free port for 'api-server'"));
  CHECK(contains(output, std::to_string(ports[0]) + ": held by pid " + std::to_string(first.pid())));
  CHECK(contains(output, std::to_string(ports[1]) + ": held by pid " + std::to_string(second.pid())));
  CHECK_FALSE(contains(output, "\"event\":\"start\""));
  CHECK(portpool::Registry::holders(directory.lock_dir()).size() == 2);
}

TEST_CASE("a pool port used by a program outside portpool is skipped, and the gateway says so") {
  TempDir directory;
  auto ports = ReservedPorts::any(2);
  auto foreign = listen_on(ports[0]);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());

  CHECK(gateway.port() == ports[1]);
  CHECK(contains(gateway.output(), "\"event\":\"port_skipped\""));
  CHECK(contains(gateway.output(), "in use by a program outside portpool"));
}

TEST_CASE("the shield stops the gateway when the lock file of its port is deleted") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto gateway = Gateway::start(write_table(directory, ports.ports()), directory.lock_dir());

  std::filesystem::remove(directory.lock_dir() / ("port-" + std::to_string(gateway.port()) + ".lock"));

  auto lost = gateway.wait_for_event("shield_lost");
  REQUIRE(lost);
  CHECK((*lost)["reason"] == "lock_file_removed");
  CHECK(gateway.wait_for_event("stopped"));
  CHECK(gateway.process().exit_code() == 69);
}

TEST_CASE("command-line mistakes are explained, with the exit codes of the portpool command") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto config = write_table(directory, ports.ports());
  auto run = [&](const std::vector<std::string>& arguments) {
    auto gateway = Gateway::spawn_with_environment({"PORTPOOL_LOCK_DIR=" + directory.lock_dir().string()}, arguments);
    auto output = gateway.finish_output();
    return std::make_pair(gateway.process().exit_code(), output);
  };

  auto [zero_code, zero_output] = run({"--config", config.string(), "--instance", "0"});
  CHECK(zero_code == 64);
  CHECK(contains(zero_output, "--instance"));

  auto [service_code, service_output] = run({"--config", config.string(), "--service", "nope"});
  CHECK(service_code == 64);  // as `portpool lease nope`: a usage error, not a bad table
  CHECK(contains(service_output, "unknown service 'nope'"));

  auto [range_code, range_output] = run({"--config", config.string(), "--instance", "11"});
  CHECK(range_code == 64);
  CHECK(contains(range_output, "instance 11 is out of range"));

  auto [missing_code, missing_output] = run({"--config", (directory.path() / "missing.toml").string()});
  CHECK(missing_code == 78);
  CHECK(contains(missing_output, "missing.toml"));

  CHECK(portpool::Registry::holders(directory.lock_dir()).empty());
}
