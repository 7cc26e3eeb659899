// The dashboard in a real browser: headless Chromium (driven through chromedriver) loads the
// gateway's page, a holder is acquired and released while it is open, and the page shows each
// change; a screenshot is written to the build directory.

#include "gateway_process.hpp"
#include "ports.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "webdriver.hpp"

#include <portpool/config_file.hpp>
#include <portpool/portpool.hpp>

#include <signal.h>

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

using namespace portpool::test;
using Catch::Matchers::Contains;

namespace {

std::string port_state_script(std::uint16_t port) {
  return "const b = document.querySelector('button.port[data-port=\"" + std::to_string(port) +
         "\"]'); return b ? b.dataset.state : null;";
}

std::string port_label_script(std::uint16_t port) {
  return "const b = document.querySelector('button.port[data-port=\"" + std::to_string(port) +
         "\"]'); return b ? b.getAttribute('aria-label') : null;";
}

std::filesystem::path write_dashboard_table(const TempDir& directory, std::uint16_t gateway_port,
                                            const std::vector<std::uint16_t>& worker_ports) {
  auto path = directory.path() / "ports.toml";
  std::ofstream file(path);
  file << "[services.api-server]\nports = [" << gateway_port << "]\n\n[services.ollama-mcp]\nports = ["
       << worker_ports[0] << ", " << worker_ports[1] << "]\nprotocol = \"http\"\ntags = [\"llm\"]\n\n"
       << "[services.conversational]\nports = [" << worker_ports[2] << ", " << worker_ports[3] << "]\n\n"
       << "[services.dns]\nports = [" << worker_ports[4] << "]\ntransport = \"udp\"\n";
  return path;
}

}  // namespace

TEST_CASE("the dashboard shows a holder acquired and released while it is open, and works with the keyboard") {
  TempDir directory;
  auto ports = ReservedPorts::any(6);
  std::vector<std::uint16_t> worker_ports(ports.ports().begin() + 1, ports.ports().end());
  auto gateway = Gateway::start(write_dashboard_table(directory, ports[0], worker_ports), directory.lock_dir());
  ChromeDriver driver(CHROMEDRIVER);
  WebDriverSession browser(driver.port(), CHROMIUM, headless_chromium_arguments(directory.path() / "chromium-profile"));
  browser.navigate("http://127.0.0.1:" + std::to_string(gateway.port()) + "/");

  CHECK(browser.wait_for(port_state_script(gateway.port()), "held") == "held");
  CHECK(browser.wait_for("return document.getElementById('connection').dataset.state;", "live") == "live");
  CHECK(browser.run(port_state_script(worker_ports[0])) == "free");

  portpool::Options options;
  options.lock_dir = directory.lock_dir();
  options.description.version = "0.9.1";
  portpool::PortPoolManager manager(portpool::load_table_file(directory.path() / "ports.toml"), "ollama-mcp", options);
  auto lease = manager.acquire();
  REQUIRE(lease.port() == worker_ports[0]);
  CHECK(browser.wait_for(port_state_script(worker_ports[0]), "held") == "held");
  CHECK_THAT(browser.run(port_label_script(worker_ports[0])).get<std::string>(),
             Contains("held by ollama-mcp, pid " + std::to_string(::getpid())));

  // Keyboard: Enter on a port shows who holds it.
  browser.type_into("button.port[data-port=\"" + std::to_string(worker_ports[0]) + "\"]", "\uE007");
  auto detail =
      browser.wait_for("return document.getElementById('detail-port').textContent;", std::to_string(worker_ports[0]));
  CHECK(detail == std::to_string(worker_ports[0]));
  CHECK_THAT(browser.run("return document.getElementById('detail').textContent;").get<std::string>(),
             Contains("0.9.1"));
  auto png = browser.screenshot(DASHBOARD_SCREENSHOT);
  CHECK(png.substr(0, 8) == "\x89PNG\r\n\x1a\n");

  // A udp pool says so in its title, its holder in the port's label, the detail and the log.
  CHECK(browser.run("return document.querySelector('small[data-transport=\"udp\"]').textContent;") == "shared · udp");
  CHECK(browser.run(port_state_script(worker_ports[4])) == "free");
  portpool::PortPoolManager dns(portpool::load_table_file(directory.path() / "ports.toml"), "dns", options);
  auto dns_lease = dns.acquire();
  REQUIRE(dns_lease.port() == worker_ports[4]);
  CHECK(browser.wait_for(port_state_script(worker_ports[4]), "held") == "held");
  CHECK_THAT(browser.run(port_label_script(worker_ports[4])).get<std::string>(),
             Contains(std::to_string(worker_ports[4]) + " (udp): held by dns"));
  CHECK_THAT(browser.run("return document.getElementById('log').textContent;").get<std::string>(),
             Contains("acquired " + std::to_string(worker_ports[4]) + "/udp dns"));
  browser.type_into("button.port[data-port=\"" + std::to_string(worker_ports[4]) + "\"]", "\uE007");
  CHECK(browser.wait_for("return document.getElementById('detail-port').textContent;",
                         std::to_string(worker_ports[4])) == std::to_string(worker_ports[4]));
  CHECK_THAT(browser.run("return document.getElementById('detail').textContent;").get<std::string>(),
             Contains("transportudp"));

  lease.release();
  CHECK(browser.wait_for(port_state_script(worker_ports[0]), "free") == "free");
  CHECK_THAT(browser.run("return document.getElementById('log').textContent;").get<std::string>(),
             Contains("released " + std::to_string(worker_ports[0]) + " ollama-mcp"));
}
