// examples/mcp_server's Streamable HTTP transport under requests the SDK never sends: DNS-rebinding
// attempts, bodies that are not JSON, protocol-version headers, batches per revision, and a client
// looping on malformed requests.

#include "http_client.hpp"
#include "mcp_server_process.hpp"
#include "ports.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <string>

using namespace portpool::test;

namespace {

struct RunningServer {
  TempDir directory;
  ReservedPorts ports = ReservedPorts::any(1);
  McpServerProcess server = start(directory, ports[0]);

  static McpServerProcess start(const TempDir& directory, std::uint16_t port) {
    auto config = directory.path() / "ports.toml";
    std::ofstream(config) << "[instances]\nmax = 1\n\n[services.mcp-universal]\nports = [" << port << "]\n";
    return McpServerProcess::start(config, directory.lock_dir(), 1);
  }
};

nlohmann::json initialize_request(const std::string& protocol_version) {
  return {{"jsonrpc", "2.0"},
          {"id", 1},
          {"method", "initialize"},
          {"params",
           {{"protocolVersion", protocol_version},
            {"capabilities", nlohmann::json::object()},
            {"clientInfo", {{"name", "portpool-test"}, {"version", "1"}}}}}};
}

nlohmann::json ping_request(int id) { return {{"jsonrpc", "2.0"}, {"id", id}, {"method", "ping"}}; }

HttpReply post(std::uint16_t port, const nlohmann::json& body, HeaderList headers = {}) {
  HeaderList all{{"Content-Type", "application/json"}, {"Accept", "application/json, text/event-stream"}};
  all.insert(all.end(), headers.begin(), headers.end());
  return HttpClient(port).request(http::verb::post, "/mcp", body.dump(), all);
}

/// A refusal of the whole HTTP request: a JSON-RPC error that answers no request, so without id.
void check_refusal_body(const HttpReply& reply) {
  auto body = reply.json();
  CHECK(body.at("jsonrpc") == "2.0");
  CHECK(body.at("error").at("code").is_number_integer());
  CHECK(body.at("error").at("message").is_string());
  CHECK(!body.contains("id"));
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("rebinding attempts get 403 with a JSON-RPC error without id, loopback origins pass") {
  RunningServer running;
  auto port = running.server.port();

  auto rebound_host = post(port, initialize_request("2025-11-25"), {{"Host", "evil.example"}});
  CHECK(rebound_host.status == 403);
  check_refusal_body(rebound_host);
  auto foreign_origin = post(port, initialize_request("2025-11-25"), {{"Origin", "http://evil.example"}});
  CHECK(foreign_origin.status == 403);
  check_refusal_body(foreign_origin);
  CHECK(contains(foreign_origin.json().at("error").at("message"), "evil.example"));

  auto local_page = post(port, initialize_request("2025-11-25"),
                         {{"Origin", "http://localhost:" + std::to_string(port)}, {"Host", "localhost"}});
  CHECK(local_page.status == 200);
  CHECK(local_page.json().at("result").at("protocolVersion") == "2025-11-25");
}

TEST_CASE("an origin named with the allow-origin option may call the server") {
  TempDir directory;
  auto ports = ReservedPorts::any(1);
  auto config = directory.path() / "ports.toml";
  std::ofstream(config) << "[instances]\nmax = 1\n\n[services.mcp-universal]\nports = [" << ports[0] << "]\n";
  auto server =
      McpServerProcess::start(config, directory.lock_dir(), 1, {"--allow-origin", "http://assistant.example"});
  CHECK(post(server.port(), ping_request(1), {{"Origin", "http://assistant.example"}}).status == 200);
  CHECK(post(server.port(), ping_request(1), {{"Origin", "http://evil.example"}}).status == 403);
}

TEST_CASE("the MCP server takes only application/json bodies: others get 415") {
  RunningServer running;
  auto port = running.server.port();

  auto plain = post(port, ping_request(1), {{"Content-Type", "text/plain"}});
  CHECK(plain.status == 415);
  check_refusal_body(plain);
  CHECK(contains(plain.json().at("error").at("message"), "application/json"));
  auto form = post(port, ping_request(1), {{"Content-Type", "application/x-www-form-urlencoded"}});
  CHECK(form.status == 415);
  auto without_type = HttpClient(port).request(http::verb::post, "/mcp", ping_request(1).dump());
  CHECK(without_type.status == 415);

  auto with_charset = post(port, ping_request(2), {{"Content-Type", "Application/JSON; charset=utf-8"}});
  CHECK(with_charset.status == 200);
  CHECK(with_charset.json().at("id") == 2);
}

TEST_CASE("initialize with the MCP-Protocol-Version 2025-11-25 header succeeds, and the body negotiates") {
  RunningServer running;
  auto port = running.server.port();
  HeaderList newest{{"MCP-Protocol-Version", "2025-11-25"}};

  auto reply = post(port, initialize_request("2025-11-25"), newest);
  REQUIRE(reply.status == 200);
  CHECK(reply.json().at("result").at("protocolVersion") == "2025-11-25");
  CHECK(reply.json().at("result").at("serverInfo").at("name") == "portpool-mcp-server");

  auto older_body = post(port, initialize_request("2025-06-18"), newest);
  CHECK(older_body.json().at("result").at("protocolVersion") == "2025-06-18");
  // A revision the server does not speak, in the body or in the header of initialize: the answer
  // is its newest, and the client decides whether to go on.
  CHECK(post(port, initialize_request("2024-11-05")).json().at("result").at("protocolVersion") == "2025-11-25");
  auto unknown_header = post(port, initialize_request("2025-11-25"), {{"MCP-Protocol-Version", "2099-01-01"}});
  CHECK(unknown_header.json().at("result").at("protocolVersion") == "2025-11-25");

  // After initialize, the header must name a revision the server speaks.
  CHECK(post(port, ping_request(3), newest).status == 200);
  auto unsupported = post(port, ping_request(4), {{"MCP-Protocol-Version", "2024-11-05"}});
  CHECK(unsupported.status == 400);
  check_refusal_body(unsupported);
}

TEST_CASE("a batch is answered only under revision 2025-03-26, and refused under 2025-06-18 and 2025-11-25") {
  RunningServer running;
  auto port = running.server.port();
  auto batch = nlohmann::json::array({ping_request(1), ping_request(2)});

  for (const auto* version : {"2025-06-18", "2025-11-25"}) {
    CAPTURE(version);
    auto refused = post(port, batch, {{"MCP-Protocol-Version", version}});
    CHECK(refused.status == 400);
    check_refusal_body(refused);
    CHECK(contains(refused.json().at("error").at("message"), "one message per POST"));
  }
  for (const HeaderList& headers : {HeaderList{{"MCP-Protocol-Version", "2025-03-26"}}, HeaderList{}}) {
    auto answered = post(port, batch, headers);
    REQUIRE(answered.status == 200);
    REQUIRE(answered.json().is_array());
    CHECK(answered.json().size() == 2);
  }
}

TEST_CASE("a client looping on malformed requests gets a few log lines per second and a count of the rest") {
  RunningServer running;
  constexpr int bad_requests = 300;
  auto started = std::chrono::steady_clock::now();
  for (int request = 0; request < bad_requests; ++request) {
    REQUIRE(contains(raw_exchange(running.server.port(), "THIS IS NOT HTTP\r\n\r\n"), "HTTP/1.1 400"));
  }

  // Every refusal is either logged or counted in a summary line; read until all are accounted for.
  long logged = 0;
  long suppressed = 0;
  while (logged + suppressed < bad_requests) {
    auto line = running.server.process().read_line();
    REQUIRE(line);
    auto event = nlohmann::json::parse(*line, nullptr, false);
    if (event.value("event", "") == "request_refused") {
      ++logged;
    } else if (event.value("event", "") == "log_suppressed" && event.at("suppressed_event") == "request_refused") {
      suppressed += event.at("count").get<long>();
    }
  }
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count();
  CAPTURE(logged, suppressed, seconds);
  CHECK(logged + suppressed == bad_requests);
  CHECK(logged <= 5 * (seconds + 2));  // five lines in each interval of one second
  CHECK(suppressed > 0);
}
