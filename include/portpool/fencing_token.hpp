#pragma once

/// @file
/// FencingToken: the number that orders the holders of a fleet-wide port, for systems downstream of
/// the holder that must refuse a stale one.

#include <cstdint>
#include <string>

namespace portpool {

/// The etcd revision at which a fleet claim was made, with the id of the etcd cluster that made it.
/// A later claim of the same port in the same cluster has a higher revision, so a downstream system
/// (a database, a storage service) that remembers the highest token it has seen for a resource can
/// refuse a request from a holder whose claim was since lost and taken by another host: the way
/// etcd's own lock API is meant to be used. Host-wide leases (FileLockPolicy) have none.
///
/// Tokens are ordered only within one cluster: an etcd recreated without its data starts its
/// revisions again, under a new cluster id, so compare `cluster_id` first.
///
/// @code
/// if (auto token = lease.fencing_token())
///   storage.write(data, token->cluster_id, token->revision);  // the store refuses an older revision
/// @endcode
struct FencingToken {
  std::string cluster_id;     ///< the etcd cluster's id, as 16 hexadecimal digits
  std::int64_t revision = 0;  ///< the etcd revision of the claim (its key's create_revision)
};

/// Whether two tokens name the same claim.
inline bool operator==(const FencingToken& left, const FencingToken& right) {
  return left.cluster_id == right.cluster_id && left.revision == right.revision;
}

/// Whether two tokens name different claims.
inline bool operator!=(const FencingToken& left, const FencingToken& right) { return !(left == right); }

}  // namespace portpool
