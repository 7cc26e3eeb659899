#include "liveness.hpp"

#include "duration.hpp"
#include "exit_codes.hpp"

#include <portpool/parse_integer.hpp>
#include <portpool/printable_text.hpp>
#include <portpool/service_description.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include <string_view>
#include <utility>

namespace portpool::cli {
namespace {

constexpr std::chrono::milliseconds shortest_interval{10};
constexpr std::size_t longest_status_line = 1024;
constexpr std::size_t longest_reason = 200;  // the outcome fits in a metadata value (256 bytes)

std::string duration_text(std::chrono::milliseconds duration) {
  return duration.count() % 1000 == 0 ? fmt::format("{}s", duration.count() / 1000)
                                      : fmt::format("{}ms", duration.count());
}

LivenessSettings::Kind parse_check(const std::string& check, std::string& path) {
  constexpr std::string_view http_prefix = "http:";
  if (check == "tcp") {
    return LivenessSettings::Kind::tcp;
  }
  if (check.rfind(http_prefix, 0) == 0) {
    path = check.substr(http_prefix.size());
    ServiceDescription checked;
    checked.health_path = path;
    if (!description_problem(checked).empty()) {
      throw UsageError(fmt::format(
          "--liveness {}: the path must start with '/' and have at most {} printable ASCII characters, without "
          "spaces (http:/health)",
          printable_text(check), ServiceDescription::max_health_path_length));
    }
    return LivenessSettings::Kind::http;
  }
  throw UsageError(fmt::format(
      "--liveness {} is not a check: give http:PATH (an HTTP GET of PATH on the port, such as http:/health) or tcp "
      "(a connection to the port)",
      printable_text(check)));
}

// The outcome as one metadata value: printable ASCII, bounded.
std::string printable_reason(const std::string& reason) {
  std::string text;
  for (char character : reason) {
    if (text.size() == longest_reason) {
      break;
    }
    text.push_back(character >= ' ' && character <= '~' ? character : '?');
  }
  return text;
}

std::string reading_failure(const boost::system::error_code& error) {
  if (error == boost::asio::error::eof) {
    return "the connection was closed without an answer";
  }
  if (error == boost::asio::error::not_found) {
    return fmt::format("the answer is not HTTP (no status line in its first {} bytes)", longest_status_line);
  }
  return error.message();
}

}  // namespace

std::optional<LivenessSettings> liveness_settings(const std::string& check, const std::string& interval,
                                                  const std::string& start_period, const std::string& failures,
                                                  bool socket) {
  if (check.empty()) {
    for (const auto& [value, option] :
         {std::pair{&interval, "--liveness-interval"}, std::pair{&start_period, "--liveness-start-period"},
          std::pair{&failures, "--liveness-failures"}}) {
      if (!value->empty()) {
        throw UsageError(
            fmt::format("{} is for --liveness, which is not given: add --liveness http:PATH or "
                        "--liveness tcp, or leave {} out",
                        option, option));
      }
    }
    return std::nullopt;
  }
  LivenessSettings settings;
  settings.kind = parse_check(check, settings.path);
  if (settings.kind == LivenessSettings::Kind::tcp && socket) {
    throw UsageError(
        "--liveness tcp cannot tell whether CMD answers on a socket that portpool listens on itself (the kernel "
        "accepts connections into its queue first): with --socket, use --liveness http:PATH (with --adopt too)");
  }
  settings.ipv4_only = socket;
  if (!interval.empty()) {
    settings.interval = parse_duration(interval, "--liveness-interval");
    if (settings.interval < shortest_interval) {
      throw UsageError(fmt::format("--liveness-interval {} is too short: give at least {}", interval,
                                   duration_text(shortest_interval)));
    }
  }
  if (!start_period.empty()) {
    settings.start_period = parse_duration(start_period, "--liveness-start-period");
  }
  if (!failures.empty()) {
    auto count = parse_integer<int>(failures);
    if (!count || *count < 1) {
      throw UsageError(fmt::format(
          "--liveness-failures {} is not a number of failed checks: give a whole number from 1 (CMD is restarted "
          "after that many failed checks in a row)",
          printable_text(failures)));
    }
    settings.failures = *count;
  }
  return settings;
}

/// One check: its connection and what the server answered so far.
struct LivenessMonitor::Check {
  explicit Check(boost::asio::io_context& context) : socket(context) {}
  boost::asio::ip::tcp::socket socket;
  std::string request;
  std::string response;
  bool finished = false;
};

LivenessMonitor::LivenessMonitor(boost::asio::io_context& context, std::uint16_t port, LivenessSettings settings,
                                 std::function<void(const std::string&)> on_outcome,
                                 std::function<void(const std::string&)> on_unresponsive)
    : context_(context),
      port_(port),
      settings_(std::move(settings)),
      on_outcome_(std::move(on_outcome)),
      on_unresponsive_(std::move(on_unresponsive)),
      next_check_(context) {}

void LivenessMonitor::watch() {
  stop();
  watching_ = true;
  answered_ = false;
  failures_ = 0;
  copy_started_ = std::chrono::steady_clock::now();
  record("starting");
  schedule(copy_started_ + settings_.interval);
}

void LivenessMonitor::stop() {
  watching_ = false;
  next_check_.cancel();
  if (current_) {
    current_->finished = true;
    boost::system::error_code ignored;
    current_->socket.close(ignored);
    current_.reset();
  }
}

void LivenessMonitor::schedule(std::chrono::steady_clock::time_point when) {
  next_check_.expires_at(when);
  next_check_.async_wait([this](const boost::system::error_code& error) {
    if (!error && watching_) {
      begin_check();
    }
  });
}

// A check has until the next one is due to answer: checks never overlap.
void LivenessMonitor::begin_check() {
  if (current_) {
    finish(current_, fmt::format("no answer on port {} within {}", port_, duration_text(settings_.interval)));
    if (!watching_) {
      return;
    }
  }
  auto check = std::make_shared<Check>(context_);
  current_ = check;
  schedule(std::chrono::steady_clock::now() + settings_.interval);
  connect(check, boost::asio::ip::address_v4::loopback());
}

// 127.0.0.1, then ::1 when nothing listens there: a server on "localhost" may listen on ::1 only.
void LivenessMonitor::connect(const std::shared_ptr<Check>& check, const boost::asio::ip::address& address) {
  check->socket.async_connect({address, port_}, [this, check, address](const boost::system::error_code& error) {
    if (check->finished) {
      return;
    }
    if (error == boost::asio::error::connection_refused && address.is_v4() && !settings_.ipv4_only) {
      boost::system::error_code ignored;
      check->socket.close(ignored);
      connect(check, boost::asio::ip::address_v6::loopback());
      return;
    }
    if (error) {
      finish(check, fmt::format("cannot connect to port {}: {}", port_, error.message()));
    } else if (settings_.kind == LivenessSettings::Kind::tcp) {
      finish(check, std::nullopt);
    } else {
      send_request(check);
    }
  });
}

void LivenessMonitor::send_request(const std::shared_ptr<Check>& check) {
  check->request =
      fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: portpool-liveness\r\nConnection: close\r\n\r\n",
                  settings_.path, port_);
  boost::asio::async_write(
      check->socket, boost::asio::buffer(check->request),
      [this, check](const boost::system::error_code& error, std::size_t) {
        if (check->finished) {
          return;
        }
        if (error) {
          finish(check, fmt::format("cannot send GET {} to port {}: {}", settings_.path, port_, error.message()));
          return;
        }
        read_status_line(check);
      });
}

// Success is a status line "HTTP/1.x 2xx" or "3xx"; the rest of the answer is not read.
void LivenessMonitor::read_status_line(const std::shared_ptr<Check>& check) {
  boost::asio::async_read_until(
      check->socket, boost::asio::dynamic_buffer(check->response, longest_status_line), "\r\n",
      [this, check](const boost::system::error_code& error, std::size_t length) {
        if (check->finished) {
          return;
        }
        auto where = fmt::format("GET {} on port {}", settings_.path, port_);
        if (error) {
          finish(check, fmt::format("{}: {}", where, reading_failure(error)));
          return;
        }
        std::string_view line(check->response.data(), length - 2);
        auto space = line.find(' ');
        auto code = space == std::string_view::npos ? std::nullopt : parse_integer<int>(line.substr(space + 1, 3));
        if (line.rfind("HTTP/", 0) != 0 || !code) {
          finish(check, fmt::format("{}: the answer is not HTTP", where));
        } else if (*code >= 200 && *code < 400) {
          finish(check, std::nullopt);
        } else {
          finish(check, fmt::format("{} answered {}", where, line.substr(space + 1)));
        }
      });
}

void LivenessMonitor::finish(const std::shared_ptr<Check>& check, std::optional<std::string> failure) {
  if (check->finished) {
    return;
  }
  check->finished = true;
  boost::system::error_code ignored;
  check->socket.close(ignored);
  if (current_ == check) {
    current_.reset();
  }
  if (!failure) {
    answered_ = true;
    failures_ = 0;
    record("ok");
    return;
  }
  auto reason = printable_reason(*failure);
  if (!answered_ && std::chrono::steady_clock::now() - copy_started_ < settings_.start_period) {
    record(fmt::format("starting (last check: {})", reason));
    return;
  }
  ++failures_;
  record(fmt::format("failed {} of {}: {}", failures_, settings_.failures, reason));
  if (failures_ >= settings_.failures) {
    stop();
    on_unresponsive_(
        fmt::format("liveness check failed {} {} in a row: {}", failures_, failures_ == 1 ? "time" : "times", reason));
  }
}

void LivenessMonitor::record(const std::string& outcome) {
  if (outcome != outcome_) {
    outcome_ = outcome;
    on_outcome_(outcome_);
  }
}

}  // namespace portpool::cli
