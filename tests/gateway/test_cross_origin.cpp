// Pages of an origin admitted with --allow-origin call the MCP server and the gateway from a real
// browser (headless Chromium): the preflight is answered and the responses name the origin; a page
// of another origin is refused.

#include "gateway_process.hpp"
#include "ports.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "webdriver.hpp"

#include <signal.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <string>

using namespace portpool::test;
using Catch::Matchers::Contains;

namespace {

std::string origin_of(std::uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

bool answers_http(std::uint16_t port) {
  try {
    http_get(port, "/");
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

/// A static page server (Python's http.server) on `port`, serving an empty page.
ChildProcess serve_page(const TempDir& directory, std::uint16_t port) {
  auto root = directory.path() / ("pages-" + std::to_string(port));
  std::filesystem::create_directories(root);
  std::ofstream(root / "index.html") << "<!doctype html><title>page</title>\n";
  auto server = ChildProcess::spawn(
      {"/usr/bin/python3", "-m", "http.server", std::to_string(port), "--bind", "127.0.0.1", "--directory", root});
  REQUIRE(wait_until([&] { return answers_http(port); }));
  return server;
}

/// A script for the page: `fetch(url, init)`, then the status and the body the page could read,
/// or the error the browser gave.
std::string fetch_script(const std::string& url, const std::string& init) {
  return "const done = arguments[arguments.length - 1];"
         "fetch('" +
         url + "', " + init +
         ")"
         ".then((response) => response.text().then((body) => done({status: response.status, body})))"
         ".catch((error) => done({error: String(error)}));";
}

constexpr const char* initialize_request =
    "{method: 'POST', headers: {'Content-Type': 'application/json', 'Accept': 'application/json, text/event-stream', "
    "'MCP-Protocol-Version': '2025-06-18'}, body: JSON.stringify({jsonrpc: '2.0', id: 1, method: 'initialize', "
    "params: {protocolVersion: '2025-06-18', capabilities: {}, clientInfo: {name: 'page', version: '1'}}})}";

}  // namespace

TEST_CASE("a page of an admitted origin calls the MCP server and the gateway, and a page of another origin cannot") {
  TempDir directory;
  auto ports = ReservedPorts::any(4);
  const auto mcp_port = ports[0];
  const auto gateway_port = ports[1];
  const auto admitted_page = ports[2];
  const auto foreign_page = ports[3];
  auto config = directory.path() / "ports.toml";
  std::ofstream(config) << "[services.mcp-universal]\nports = [" << mcp_port << "]\n\n[services.api-server]\nports = ["
                        << gateway_port << "]\n";
  const std::vector<std::string> admit{"--allow-origin", origin_of(admitted_page)};
  auto mcp = ChildProcess::spawn(
      {MCP_SERVER, "--config", config.string(), "--lock-dir", directory.lock_dir().string(), admit[0], admit[1]});
  REQUIRE(wait_until([&] { return answers_http(mcp_port); }));
  auto gateway = Gateway::start(config, directory.lock_dir(), admit);
  REQUIRE(gateway.port() == gateway_port);
  auto admitted = serve_page(directory, admitted_page);
  auto foreign = serve_page(directory, foreign_page);

  ChromeDriver driver(CHROMEDRIVER);
  WebDriverSession browser(driver.port(), CHROMIUM, headless_chromium_arguments(directory.path() / "profile"));
  const auto mcp_url = origin_of(mcp_port) + "/mcp";
  const auto health_url = origin_of(gateway_port) + "/api/health";

  browser.navigate(origin_of(admitted_page) + "/index.html");
  auto call = browser.run_async(fetch_script(mcp_url, initialize_request));
  INFO(call.dump());
  CHECK(call.value("status", 0) == 200);
  CHECK_THAT(call.value("body", ""), Contains("serverInfo"));
  auto health = browser.run_async(fetch_script(health_url, "{}"));
  INFO(health.dump());
  CHECK(health.value("status", 0) == 200);

  browser.navigate(origin_of(foreign_page) + "/index.html");
  auto refused = browser.run_async(fetch_script(mcp_url, initialize_request));
  INFO(refused.dump());
  CHECK_THAT(refused.value("error", ""), Contains("Failed to fetch"));
  auto refused_health = browser.run_async(fetch_script(health_url, "{}"));
  CHECK_THAT(refused_health.value("error", ""), Contains("Failed to fetch"));

  mcp.signal(SIGTERM);
  mcp.wait();
  admitted.signal(SIGTERM);
  foreign.signal(SIGTERM);
}
