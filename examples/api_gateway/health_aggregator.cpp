#include "health_aggregator.hpp"

#include <boost/beast/http.hpp>

#include <portpool/holder_json.hpp>
#include <portpool/registry.hpp>

#include <unistd.h>

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

namespace api_gateway {

namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

struct ProbeOutcome {
  bool up = false;
  double latency_ms = 0;
  std::string detail;
};

/// One `GET /api/health` to one holder; a single deadline covers connecting, writing and reading.
class HealthProbe : public std::enable_shared_from_this<HealthProbe> {
 public:
  using Done = std::function<void(ProbeOutcome)>;

  HealthProbe(const boost::asio::any_io_executor& executor, tcp::endpoint target, const std::string& path,
              std::chrono::milliseconds timeout, Done done)
      : stream_(executor), target_(std::move(target)), timeout_(timeout), done_(std::move(done)) {
    request_.target(path);
    request_.set(http::field::host, fmt::format("{}:{}", target_.address().to_string(), target_.port()));
    request_.set(http::field::connection, "close");
    parser_.body_limit(std::uint64_t{64} * 1024);
  }

  void start() {
    started_ = std::chrono::steady_clock::now();
    stream_.expires_after(timeout_);
    stream_.async_connect(target_, [self = shared_from_this()](beast::error_code error) { self->on_connect(error); });
  }

 private:
  void on_connect(beast::error_code error) {
    if (error) {
      return fail(error);
    }
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code write_error, std::size_t) {
      self->on_write(write_error);
    });
  }

  void on_write(beast::error_code error) {
    if (error) {
      return fail(error);
    }
    http::async_read(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code read_error, std::size_t) {
      self->on_read(read_error);
    });
  }

  void on_read(beast::error_code error) {
    if (error) {
      return fail(error);
    }
    auto status = parser_.get().result_int();
    finish(status >= 200 && status < 300, fmt::format("HTTP {}", status));
  }

  void fail(beast::error_code error) {
    if (error == beast::error::timeout) {
      return finish(false, fmt::format("no answer within {} ms", timeout_.count()));
    }
    finish(false, error.message());
  }

  void finish(bool up, std::string detail) {
    beast::error_code ignored;
    stream_.socket().close(ignored);
    auto latency = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
    done_(ProbeOutcome{up, std::round(latency * 1000) / 1000, std::move(detail)});
  }

  beast::tcp_stream stream_;
  tcp::endpoint target_;
  std::chrono::milliseconds timeout_;
  http::request<http::empty_body> request_{http::verb::get, "/", 11};
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  std::chrono::steady_clock::time_point started_;
  Done done_;
};

/// Collects the probes' outcomes in holder order and reports once all are in.
struct Aggregation {
  std::vector<nlohmann::ordered_json> services;
  std::size_t pending = 0;
  nlohmann::ordered_json not_probed = nlohmann::ordered_json::array();
  std::chrono::milliseconds timeout{};
  HealthAggregator::Done done;

  void complete(std::size_t index, const ProbeOutcome& outcome) {
    auto& entry = services[index];
    entry["status"] = outcome.up ? "up" : "down";
    entry["latency_ms"] = outcome.latency_ms;
    entry["detail"] = outcome.detail;
    if (--pending == 0) {
      report();
    }
  }

  void report() {
    auto up = static_cast<std::size_t>(std::count_if(
        services.begin(), services.end(), [](const nlohmann::ordered_json& entry) { return entry["status"] == "up"; }));
    done({{"status", up == services.size() ? "up" : "degraded"},
          {"up", up},
          {"down", services.size() - up},
          {"timeout_ms", timeout.count()},
          {"services", services},
          {"not_probed", not_probed}});
  }
};

}  // namespace

HealthAggregator::HealthAggregator(boost::asio::any_io_executor executor, portpool::Options registry_options,
                                   HealthCheckSettings settings, std::uint16_t own_port)
    : executor_(std::move(executor)),
      registry_options_(std::move(registry_options)),
      settings_(std::move(settings)),
      own_port_(own_port) {}

nlohmann::ordered_json HealthAggregator::describe(const portpool::Holder& holder) const {
  auto entry = portpool::holder_json(holder);
  if (holder.port == own_port_ && holder.pid == ::getpid()) {
    entry["self"] = true;
  }
  return entry;
}

// A holder that declares an HTTP health path is probed there; one that declares none, on
// /api/health when its service is known to serve it. A health path beside another protocol (grpc,
// ws...) is not an HTTP endpoint this probe can ask.
std::optional<std::string> HealthAggregator::health_path(const portpool::Holder& holder) const {
  if (!holder.verified) {
    return std::nullopt;  // any member of a shared lock directory could have written this path
  }
  const auto& description = holder.description;
  if (!description.health_path.empty()) {
    if (description.protocol.empty() || description.protocol == "http") {
      return description.health_path;
    }
    return std::nullopt;
  }
  if (settings_.services.count(holder.service) != 0) {
    return std::string(default_health_path);
  }
  return std::nullopt;
}

void HealthAggregator::aggregate(Done done) const {
  auto aggregation = std::make_shared<Aggregation>();
  aggregation->timeout = settings_.timeout;
  aggregation->done = std::move(done);
  std::vector<std::pair<portpool::Holder, std::string>> probed;  // with the health path
  for (auto& holder : portpool::Registry::holders(registry_options_)) {
    if (auto path = health_path(holder)) {
      aggregation->services.push_back(describe(holder));
      aggregation->services.back()["probed_path"] = *path;
      probed.emplace_back(std::move(holder), std::move(*path));
    } else {
      aggregation->not_probed.push_back(describe(holder));
    }
  }
  aggregation->pending = probed.size();
  if (probed.empty()) {
    return aggregation->report();
  }
  for (std::size_t index = 0; index < probed.size(); ++index) {
    tcp::endpoint target(settings_.address, probed[index].first.port);
    std::make_shared<HealthProbe>(
        executor_, target, probed[index].second, settings_.timeout,
        [aggregation, index](const ProbeOutcome& outcome) { aggregation->complete(index, outcome); })
        ->start();
  }
}

}  // namespace api_gateway
