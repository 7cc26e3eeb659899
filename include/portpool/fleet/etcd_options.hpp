#pragma once

/// @file
/// EtcdOptions: where the fleet's etcd is and how to authenticate to it.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace portpool::fleet {

/// A client's move from the etcd member it was talking to, which stopped answering, to another
/// member that answered (see `EtcdOptions::on_failover`).
struct EtcdFailover {
  std::string lost;    ///< the endpoint that stopped answering, as given in `EtcdOptions::endpoints`
  std::string used;    ///< the endpoint that answered instead
  std::string reason;  ///< why `lost` counts as gone, in gRPC's words ("failed to connect to all addresses")
};

/// How to reach etcd. A default-constructed EtcdOptions names no endpoint: set at least one.
///
/// @code
/// portpool::fleet::EtcdOptions etcd;
/// etcd.endpoints = {"https://10.0.0.5:2379", "https://10.0.0.6:2379"};
/// etcd.ca_file = "/etc/portpool/etcd-ca.pem";
/// @endcode
struct EtcdOptions {
  /// Client URLs of the cluster's members, `http://HOST:PORT` or `https://HOST:PORT` (HOST:PORT
  /// alone means http). Calls go to one member and move to the next when it cannot be reached.
  std::vector<std::string> endpoints;

  /// PEM file of the certificate authority that signed etcd's certificate. Setting it (or using
  /// an https URL) makes every connection TLS; empty with https: the system's trusted roots.
  std::string ca_file;

  /// PEM file of this client's certificate, for etcd's client-certificate authentication
  /// (`--client-cert-auth`). Set with `key_file`, or neither.
  std::string cert_file;
  /// PEM file of the key of `cert_file`.
  std::string key_file;

  /// etcd user (etcd's own authentication, `etcdctl auth enable`). Empty: none.
  std::string user;
  /// The password of `user`.
  std::string password;

  /// How long one request may take before its endpoint counts as unreachable.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(3)};

  /// Called, on the thread of the call, when a request or a watch leaves the member it was
  /// talking to because that member stopped answering, and another member answers it (a call
  /// that no member answers throws EtcdUnavailable instead). Empty: nobody is told. An exception
  /// it throws is ignored.
  std::function<void(const EtcdFailover&)> on_failover;
};

}  // namespace portpool::fleet
