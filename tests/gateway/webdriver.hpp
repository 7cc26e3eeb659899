#pragma once

// Just enough of the W3C WebDriver protocol to drive headless Chromium through chromedriver from a
// test: a session, navigation, scripts, a key press, a screenshot. Every call is one HTTP request
// to the chromedriver process the test started.

#include "http_client.hpp"
#include "ports.hpp"
#include "process.hpp"

#include <signal.h>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace portpool::test {

/// The bytes of standard base64 `text` (screenshots come as base64 PNG).
inline std::string base64_decode(const std::string& text) {
  constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string bytes;
  unsigned bits = 0;
  int count = 0;
  for (char c : text) {
    auto value = alphabet.find(c);
    if (value == std::string_view::npos) {
      continue;  // padding
    }
    bits = (bits << 6U) | static_cast<unsigned>(value);
    count += 6;
    if (count >= 8) {
      count -= 8;
      bytes.push_back(static_cast<char>((bits >> static_cast<unsigned>(count)) & 0xFFU));
    }
  }
  return bytes;
}

/// The arguments of a headless Chromium for tests, with its profile in `profile`.
inline std::vector<std::string> headless_chromium_arguments(const std::filesystem::path& profile) {
  return {"--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--user-data-dir=" + profile.string(),
          "--window-size=1280,720"};
}

/// chromedriver on a port chosen now, stopped (with its browsers) when the test ends.
class ChromeDriver {
 public:
  explicit ChromeDriver(const std::string& chromedriver)
      : port_(ReservedPorts::any(1)[0]),
        process_(ChildProcess::spawn({chromedriver, "--port=" + std::to_string(port_)})) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      try {
        if (http_get(port_, "/status").json().at("value").at("ready") == true) {
          return;
        }
      } catch (const std::exception&) {  // not listening yet
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("chromedriver did not become ready within 20 s");
  }
  ChromeDriver(const ChromeDriver&) = delete;
  ChromeDriver& operator=(const ChromeDriver&) = delete;
  ChromeDriver(ChromeDriver&&) = delete;
  ChromeDriver& operator=(ChromeDriver&&) = delete;
  ~ChromeDriver() {
    process_.signal(SIGTERM);
    process_.wait();
  }

  std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_;
  ChildProcess process_;
};

class WebDriverSession {
 public:
  /// Starts a browser session on the chromedriver listening on `driver_port`, with `arguments`
  /// for `browser`.
  WebDriverSession(std::uint16_t driver_port, const std::string& browser, const std::vector<std::string>& arguments)
      : driver_port_(driver_port) {
    nlohmann::json capabilities{
        {"capabilities", {{"alwaysMatch", {{"goog:chromeOptions", {{"binary", browser}, {"args", arguments}}}}}}}};
    auto reply = call(http::verb::post, "/session", capabilities);
    session_ = reply.at("value").at("sessionId").get<std::string>();
  }
  WebDriverSession(const WebDriverSession&) = delete;
  WebDriverSession& operator=(const WebDriverSession&) = delete;
  WebDriverSession(WebDriverSession&&) = delete;
  WebDriverSession& operator=(WebDriverSession&&) = delete;
  ~WebDriverSession() {
    try {
      call(http::verb::delete_, path(""), nullptr);
    } catch (const std::exception&) {  // the driver is gone: so is the browser
    }
  }

  void navigate(const std::string& url) { call(http::verb::post, path("/url"), {{"url", url}}); }

  /// The value `script` (a function body) returns in the page.
  nlohmann::json run(const std::string& script) {
    return call(http::verb::post, path("/execute/sync"), {{"script", script}, {"args", nlohmann::json::array()}})
        .at("value");
  }

  /// The value `script` (a function body) passes to its callback, the last of its `arguments`:
  /// for scripts that wait for a promise.
  nlohmann::json run_async(const std::string& script) {
    return call(http::verb::post, path("/execute/async"), {{"script", script}, {"args", nlohmann::json::array()}})
        .at("value");
  }

  /// Waits until `script` returns `expected`, for at most `bound`; returns what it last returned.
  nlohmann::json wait_for(const std::string& script, const nlohmann::json& expected,
                          std::chrono::seconds bound = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    auto value = run(script);
    while (value != expected && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      value = run(script);
    }
    return value;
  }

  /// Types `keys` (WebDriver key codes allowed, such as "\uE007" for Enter) into the element
  /// `css` finds.
  void type_into(const std::string& css, const std::string& keys) {
    auto found = call(http::verb::post, path("/element"), {{"using", "css selector"}, {"value", css}}).at("value");
    auto id = found.begin().value().get<std::string>();
    call(http::verb::post, path("/element/" + id + "/value"), {{"text", keys}});
  }

  /// Writes a PNG screenshot of the window to `file`; returns its bytes.
  std::string screenshot(const std::filesystem::path& file) {
    auto png = base64_decode(call(http::verb::get, path("/screenshot"), nullptr).at("value").get<std::string>());
    std::ofstream(file, std::ios::binary) << png;
    return png;
  }

 private:
  std::string path(const std::string& tail) const { return "/session/" + session_ + tail; }

  nlohmann::json call(http::verb method, const std::string& target, const nlohmann::json& body) const {
    HttpClient client(driver_port_, std::chrono::seconds(60));
    auto reply = client.request(method, target, body.is_null() ? std::string() : body.dump());
    auto parsed = nlohmann::json::parse(reply.body, nullptr, false);
    if (reply.status != 200 || parsed.is_discarded()) {
      throw std::runtime_error("WebDriver " + target + ": HTTP " + std::to_string(reply.status) + ": " + reply.body);
    }
    return parsed;
  }

  std::uint16_t driver_port_;
  std::string session_;
};

}  // namespace portpool::test
