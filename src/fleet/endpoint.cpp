#include "endpoint.hpp"

#include <portpool/detail/printable_text.hpp>
#include <portpool/error.hpp>
#include <portpool/parse_integer.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string_view>

namespace portpool::fleet::detail {
namespace {

[[noreturn]] void reject(const std::string& url, std::string_view why) {
  throw ConfigError(
      fmt::format("the etcd endpoint '{}' is not usable: {}; write it as http://HOST:PORT or "
                  "https://HOST:PORT (e.g. http://127.0.0.1:2379)",
                  portpool::detail::printable_text(url), why));
}

bool valid_port(std::string_view digits) {
  auto port = parse_integer<std::uint16_t>(digits);
  return port && *port >= 1;
}

bool valid_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {  // an IPv6 literal
    return std::all_of(host.begin() + 1, host.end() - 1,
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; });
  }
  return !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
  });
}

}  // namespace

Endpoint parse_endpoint(const std::string& url) {
  Endpoint endpoint{url, {}, false};
  std::string_view rest = url;
  if (rest.rfind("https://", 0) == 0) {
    endpoint.tls = true;
    rest.remove_prefix(8);
  } else if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    reject(url, "only http and https are supported");
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    reject(url, "it has no port");
  }
  auto host = rest.substr(0, colon);
  if (!valid_host(host)) {
    reject(url, "the host name is not valid");
  }
  if (!valid_port(rest.substr(colon + 1))) {
    reject(url, "the port is not a number from 1 to 65535");
  }
  endpoint.target = std::string(rest);
  return endpoint;
}

}  // namespace portpool::fleet::detail
