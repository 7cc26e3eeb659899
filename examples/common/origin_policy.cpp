#include "origin_policy.hpp"

#include <portpool/printable_text.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace portpool_example {

namespace http = boost::beast::http;

namespace {

std::string lowercase(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char character) { return static_cast<char>(std::tolower(character)); });
  return lower;
}

// Origins compare without case and without a trailing slash, which some clients add.
std::string normalized_origin(std::string_view origin) {
  auto normal = lowercase(origin);
  if (!normal.empty() && normal.back() == '/') {
    normal.pop_back();
  }
  return normal;
}

std::string_view without_prefix(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix ? text.substr(prefix.size()) : std::string_view{};
}

}  // namespace

OriginPolicy::OriginPolicy(std::uint16_t port, const std::vector<std::string>& allowed_origins) : port_(port) {
  for (const auto& origin : allowed_origins) {
    allowed_origins_.push_back(normalized_origin(origin));
  }
}

std::optional<std::string> OriginPolicy::refusal(const http::request_header<>& header) const {
  auto host = header[http::field::host];
  if (!host.empty() && !is_loopback_authority(lowercase({host.data(), host.size()}))) {
    return fmt::format(
        "Host '{}' is not a loopback name of this server (127.0.0.1:{}, localhost:{} or [::1]:{}): requests for "
        "other names are refused, as a defence against DNS rebinding",
        portpool::printable_text(std::string_view(host.data(), host.size())), port_, port_, port_);
  }
  auto origins = header.count(http::field::origin);
  if (origins == 0) {
    return std::nullopt;  // not a browser page: nothing to rebind
  }
  auto origin = header[http::field::origin];
  if (origins == 1 && is_acceptable_origin(normalized_origin({origin.data(), origin.size()}))) {
    return std::nullopt;
  }
  return fmt::format(
      "Origin '{}' is not allowed: this server answers browser pages only from http://localhost:{} (or 127.0.0.1, "
      "[::1]) and from origins given with --allow-origin",
      portpool::printable_text(std::string_view(origin.data(), origin.size())), port_);
}

bool OriginPolicy::is_loopback_authority(std::string_view authority) const {
  static constexpr std::array<std::string_view, 3> loopback_names{"127.0.0.1", "localhost", "[::1]"};
  auto with_port = fmt::format(":{}", port_);
  return std::any_of(loopback_names.begin(), loopback_names.end(), [&](std::string_view name) {
    return authority == name || authority == fmt::format("{}{}", name, with_port);
  });
}

bool OriginPolicy::is_acceptable_origin(std::string_view origin) const {
  if (std::find(allowed_origins_.begin(), allowed_origins_.end(), origin) != allowed_origins_.end()) {
    return true;
  }
  static constexpr std::array<std::string_view, 2> schemes{"http://", "https://"};
  return std::any_of(schemes.begin(), schemes.end(), [&](std::string_view scheme) {
    auto authority = without_prefix(origin, scheme);
    return !authority.empty() && is_loopback_authority(authority);
  });
}

}  // namespace portpool_example
