#pragma once

// The bodies of IpAddress (included at the end of ip_address.hpp, or by <portpool/src.hpp> under
// PORTPOOL_SEPARATE_COMPILATION), on the C library's inet_pton, inet_ntop and interface-name calls.

#include <portpool/error.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>

namespace portpool {

PORTPOOL_DECL IpAddress IpAddress::v4(const V4Bytes& bytes) noexcept {
  IpAddress address;
  std::copy(bytes.begin(), bytes.end(), address.bytes_.begin());
  return address;
}

PORTPOOL_DECL IpAddress IpAddress::v6(const V6Bytes& bytes, std::uint32_t scope_id) noexcept {
  IpAddress address;
  address.is_v6_ = true;
  address.bytes_ = bytes;
  address.scope_id_ = scope_id;
  return address;
}

PORTPOOL_DECL IpAddress IpAddress::loopback_v4() noexcept { return v4({127, 0, 0, 1}); }

PORTPOOL_DECL IpAddress IpAddress::loopback_v6() noexcept {
  V6Bytes bytes{};
  bytes.back() = 1;
  return v6(bytes);
}

PORTPOOL_DECL IpAddress IpAddress::any_v4() noexcept { return {}; }

PORTPOOL_DECL IpAddress IpAddress::any_v6() noexcept { return v6({}); }

PORTPOOL_DECL std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  auto percent = text.find('%');
  std::string address_text(text.substr(0, percent));
  if (percent == std::string_view::npos) {
    V4Bytes bytes{};
    if (::inet_pton(AF_INET, address_text.c_str(), bytes.data()) == 1) {
      return v4(bytes);
    }
  }
  V6Bytes bytes{};
  if (::inet_pton(AF_INET6, address_text.c_str(), bytes.data()) != 1) {
    return std::nullopt;
  }
  std::uint32_t scope_id = 0;
  if (percent != std::string_view::npos) {
    std::string scope(text.substr(percent + 1));
    if (scope.empty()) {
      return std::nullopt;
    }
    scope_id = ::if_nametoindex(scope.c_str());
    if (scope_id == 0) {
      if (!std::all_of(scope.begin(), scope.end(), [](char c) { return c >= '0' && c <= '9'; }) || scope.size() > 9) {
        return std::nullopt;
      }
      scope_id = static_cast<std::uint32_t>(std::stoul(scope));
    }
  }
  return v6(bytes, scope_id);
}

PORTPOOL_DECL IpAddress IpAddress::from_string(std::string_view text) {
  if (auto address = parse(text)) {
    return *address;
  }
  throw ConfigError("'" + std::string(text) +
                    "' is not an IP address: write an IPv4 address like 127.0.0.1 or an IPv6 one like ::1");
}

PORTPOOL_DECL bool IpAddress::is_loopback() const noexcept {
  if (!is_v6_) {
    return bytes_[0] == 127;
  }
  return *this == loopback_v6();
}

PORTPOOL_DECL bool IpAddress::is_unspecified() const noexcept {
  return std::all_of(bytes_.begin(), bytes_.end(), [](std::uint8_t byte) { return byte == 0; });
}

PORTPOOL_DECL IpAddress::V4Bytes IpAddress::v4_bytes() const noexcept {
  return {bytes_[0], bytes_[1], bytes_[2], bytes_[3]};
}

PORTPOOL_DECL std::string IpAddress::to_string() const {
  char text[INET6_ADDRSTRLEN + 1 + IF_NAMESIZE] = {};
  ::inet_ntop(is_v6_ ? AF_INET6 : AF_INET, bytes_.data(), static_cast<char*>(text), sizeof text);
  std::string written(static_cast<const char*>(text));
  if (scope_id_ != 0) {
    char name[IF_NAMESIZE] = {};
    written += '%';
    written += ::if_indextoname(scope_id_, static_cast<char*>(name)) != nullptr
                   ? std::string(static_cast<const char*>(name))
                   : std::to_string(scope_id_);
  }
  return written;
}

}  // namespace portpool
