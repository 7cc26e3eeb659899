#pragma once

/// @file
/// IpAddress: an IPv4 or IPv6 address (with its scope id), as `Options::probe_address` and the
/// listener reports carry it. A plain value type of the library, so that the core headers need no
/// networking library; <portpool/ip_address_asio.hpp> converts it to and from
/// `boost::asio::ip::address`.

#include <portpool/detail/config.hpp>
#include <portpool/detail/platform.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace portpool {

/// How a foreign address type converts into an IpAddress: a specialization provides
/// `static IpAddress to_ip_address(const Address&)`. <portpool/ip_address_asio.hpp> provides the
/// ones for `boost::asio::ip::address`, `address_v4` and `address_v6`.
template <class Address>
struct IpAddressConversion;

/// An IPv4 or IPv6 address; an IPv6 address also carries its scope id (the interface index of a
/// link-local address, 0 otherwise). Default-constructed: 0.0.0.0. Ordered like
/// `boost::asio::ip::address`: every IPv4 address before every IPv6 one, then by bytes, then by
/// scope id.
///
/// Thread safety: a value type: const members may be called from several threads at once, and
/// copies are independent; assigning to one needs that no other thread uses it meanwhile.
///
/// @code
/// portpool::Options options;
/// options.probe_address = portpool::IpAddress::loopback_v6();
/// options.probe_address = portpool::IpAddress::from_string("192.168.1.20");
/// std::cout << options.probe_address.to_string() << '\n';  // 192.168.1.20
/// @endcode
class IpAddress {
 public:
  using V4Bytes = std::array<std::uint8_t, 4>;   ///< in network order
  using V6Bytes = std::array<std::uint8_t, 16>;  ///< in network order

  IpAddress() noexcept = default;

  /// The address a foreign type holds, e.g. a `boost::asio::ip::address` once
  /// <portpool/ip_address_asio.hpp> is included (which <portpool/listening_lease.hpp> does), so
  /// that `options.probe_address = boost::asio::ip::make_address("::1")` compiles.
  template <class Address,
            class = decltype(IpAddressConversion<Address>::to_ip_address(std::declval<const Address&>()))>
  IpAddress(const Address& address) : IpAddress(IpAddressConversion<Address>::to_ip_address(address)) {}

  /// The IPv4 address of `bytes`.
  static IpAddress v4(const V4Bytes& bytes) noexcept;
  /// The IPv6 address of `bytes`, with `scope_id` (the interface index of a link-local address).
  static IpAddress v6(const V6Bytes& bytes, std::uint32_t scope_id = 0) noexcept;
  static IpAddress loopback_v4() noexcept;  ///< 127.0.0.1
  static IpAddress loopback_v6() noexcept;  ///< ::1
  static IpAddress any_v4() noexcept;       ///< 0.0.0.0
  static IpAddress any_v6() noexcept;       ///< ::

  /// The address written as `text` ("127.0.0.1", "::1", "fe80::1%eth0", "fe80::1%2"), or nullopt
  /// when it is not one.
  static std::optional<IpAddress> parse(std::string_view text);

  /// Like parse(), for an address that must be valid.
  /// @throws ConfigError naming `text` when it is not an IPv4 or IPv6 address.
  static IpAddress from_string(std::string_view text);

  /// Whether this is an IPv4 address (then v4_bytes() gives it).
  bool is_v4() const noexcept { return !is_v6_; }
  /// Whether this is an IPv6 address (then v6_bytes() and scope_id() give it).
  bool is_v6() const noexcept { return is_v6_; }

  /// 127.0.0.0/8 or ::1.
  bool is_loopback() const noexcept;
  /// 0.0.0.0 or ::.
  bool is_unspecified() const noexcept;

  /// The four bytes of an IPv4 address (meaningless for an IPv6 one).
  V4Bytes v4_bytes() const noexcept;
  /// The sixteen bytes of an IPv6 address (for an IPv4 one, its first four bytes then zeros).
  const V6Bytes& v6_bytes() const noexcept { return bytes_; }
  /// The scope id of an IPv6 address; 0 for an IPv4 one.
  std::uint32_t scope_id() const noexcept { return scope_id_; }

  /// "127.0.0.1", "::1", "fe80::1%eth0" (the interface's name, or its index when it has none).
  std::string to_string() const;

  /// Same family, same bytes and same scope id.
  friend bool operator==(const IpAddress& left, const IpAddress& right) noexcept {
    return left.is_v6_ == right.is_v6_ && left.bytes_ == right.bytes_ && left.scope_id_ == right.scope_id_;
  }
  /// Not operator==().
  friend bool operator!=(const IpAddress& left, const IpAddress& right) noexcept { return !(left == right); }
  /// Every IPv4 address before every IPv6 one, then by bytes, then by scope id.
  friend bool operator<(const IpAddress& left, const IpAddress& right) noexcept {
    if (left.is_v6_ != right.is_v6_) {
      return right.is_v6_;
    }
    if (left.bytes_ != right.bytes_) {
      return left.bytes_ < right.bytes_;
    }
    return left.scope_id_ < right.scope_id_;
  }
  /// In the order of operator<().
  friend bool operator>(const IpAddress& left, const IpAddress& right) noexcept { return right < left; }
  /// In the order of operator<().
  friend bool operator<=(const IpAddress& left, const IpAddress& right) noexcept { return !(right < left); }
  /// In the order of operator<().
  friend bool operator>=(const IpAddress& left, const IpAddress& right) noexcept { return !(left < right); }

 private:
  bool is_v6_ = false;
  V6Bytes bytes_{};
  std::uint32_t scope_id_ = 0;
};

}  // namespace portpool

#if !defined(PORTPOOL_SEPARATE_COMPILATION)
#include <portpool/impl/ip_address.ipp>
#endif
