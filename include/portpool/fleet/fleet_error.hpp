#pragma once

/// @file
/// The errors of the fleet layer.

#include <portpool/error.hpp>

namespace portpool::fleet {

/// No etcd endpoint could be reached (connection refused, timed out, TLS handshake failed). The
/// message names every endpoint tried and the last reason.
class EtcdUnavailable : public Error {
 public:
  using Error::Error;
};

/// etcd answered with an error: permission denied, authentication failed, a request it refused.
class EtcdError : public Error {
 public:
  using Error::Error;
};

/// A value read from etcd does not follow the fleet schema (it is untrusted input).
class InvalidFleetRecord : public Error {
 public:
  using Error::Error;
};

}  // namespace portpool::fleet
