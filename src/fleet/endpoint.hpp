#pragma once

// An etcd client URL taken apart: gRPC wants "HOST:PORT" and a choice of credentials.

#include <string>

namespace portpool::fleet::detail {

struct Endpoint {
  std::string url;     // as the user wrote it, for messages
  std::string target;  // HOST:PORT for gRPC
  bool tls = false;
};

/// @throws ConfigError naming the URL when it is not http(s)://HOST:PORT or HOST:PORT.
Endpoint parse_endpoint(const std::string& url);

}  // namespace portpool::fleet::detail
