#pragma once

// Protection against DNS rebinding: a web page whose name was rebound to 127.0.0.1 can reach a
// local server, but the browser still sends the page's name in Host and its origin in Origin. So a
// local server answers only requests addressed to a loopback name of its own port, and, when they
// come from a browser page (Origin present), only those from a loopback origin of that port or
// from an origin the user allowed by name.

#include <boost/beast/http/message.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portpool_example {

class OriginPolicy {
 public:
  /// Admits the loopback names of `port` (127.0.0.1, localhost, [::1], with or without `:port`)
  /// as Host, and those names as http or https origins, plus each of `allowed_origins` as given
  /// (e.g. "http://localhost:5173"; "null" admits pages with an opaque origin).
  OriginPolicy(std::uint16_t port, const std::vector<std::string>& allowed_origins);

  /// Why a request with this header must be refused (403 Forbidden), or nullopt when it may be
  /// answered. A request without Origin (a non-browser client) needs only an acceptable Host.
  std::optional<std::string> refusal(const boost::beast::http::request_header<>& header) const;

  const std::vector<std::string>& allowed_origins() const { return allowed_origins_; }

 private:
  bool is_loopback_authority(std::string_view authority) const;
  bool is_acceptable_origin(std::string_view origin) const;

  std::uint16_t port_;
  std::vector<std::string> allowed_origins_;
};

}  // namespace portpool_example
