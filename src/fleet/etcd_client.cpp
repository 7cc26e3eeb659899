#include <portpool/fleet/etcd_client.hpp>

#include "endpoint.hpp"

#include <portpool/error.hpp>
#include <portpool/fleet/fleet_error.hpp>

#include "etcd/rpc.grpc.pb.h"

#include <fmt/format.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <utility>

namespace portpool::fleet {
namespace {

using detail::Endpoint;

std::string read_pem(const std::string& path, const char* what) {
  std::ifstream file(path, std::ios::binary);
  std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  if (!file.good() && !file.eof()) {
    text.clear();
  }
  if (text.empty()) {
    throw ConfigError(fmt::format("cannot read the {} file '{}': give a readable PEM file", what, path));
  }
  return text;
}

bool unreachable(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

KeyValue from_wire(const mvccpb::KeyValue& wire) {
  return KeyValue{wire.key(), wire.value(), wire.create_revision(), wire.mod_revision(), wire.lease()};
}

// The channel and stubs of one endpoint. A channel that failed is replaced rather than reused: a
// gRPC channel that saw its endpoint refuse connections keeps failing calls fast for a while after
// the endpoint is back (an etcd restart must be noticed within a second).
struct Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Watch::Stub> watch;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth;
};

// One endpoint. The auth token is per endpoint: etcd tokens may be member-local (simple tokens are).
struct Connection {
  Endpoint endpoint;
  std::shared_ptr<Stubs> stubs;
  std::string token;
};

class GrpcWatch final : public EtcdWatch {
 public:
  GrpcWatch() = default;

  grpc::ClientContext& context() { return context_; }

  // Creates the watch; false (with error()) when the endpoint cannot be reached.
  bool start(etcdserverpb::Watch::Stub& stub, const std::string& prefix, std::int64_t start_revision,
             const std::string& url) {
    url_ = url;
    stream_ = stub.Watch(&context_);
    etcdserverpb::WatchRequest request;
    auto* create = request.mutable_create_request();
    create->set_key(prefix);
    create->set_range_end(prefix_range_end(prefix));
    create->set_start_revision(start_revision);
    if (!stream_->Write(request)) {
      finish();
      return false;
    }
    etcdserverpb::WatchResponse response;
    if (!stream_->Read(&response)) {
      finish();
      return false;
    }
    if (!response.created() || response.canceled() || response.compact_revision() != 0 || response.events_size() > 0) {
      pending_ = std::move(response);
    }
    return true;
  }

  bool next(WatchBatch& batch) override {
    etcdserverpb::WatchResponse response;
    if (pending_) {
      response = std::move(*pending_);
      pending_.reset();
    } else if (!stream_->Read(&response)) {
      finish();
      return false;
    }
    batch = WatchBatch{};
    batch.revision = response.header().revision();
    batch.compact_revision = response.compact_revision();
    batch.canceled = response.canceled();
    batch.cancel_reason = response.cancel_reason();
    batch.events.reserve(static_cast<std::size_t>(response.events_size()));
    for (const auto& event : response.events()) {
      batch.events.push_back(
          WatchEvent{event.type() == mvccpb::Event::DELETE ? WatchEvent::Type::deleted : WatchEvent::Type::put,
                     from_wire(event.kv())});
    }
    return true;
  }

  void cancel() override { context_.TryCancel(); }

  std::string error() const override {
    std::lock_guard guard(mutex_);
    return error_;
  }

  bool unreachable_endpoint() const {
    std::lock_guard guard(mutex_);
    return unreachable_;
  }

 private:
  void finish() {
    auto status = stream_->Finish();
    std::lock_guard guard(mutex_);
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      error_ = fmt::format("the watch on etcd at {} ended: {}", url_, status.error_message());
      unreachable_ = unreachable(status);
    }
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>> stream_;
  std::optional<etcdserverpb::WatchResponse> pending_;
  std::string url_;
  mutable std::mutex mutex_;
  std::string error_;
  bool unreachable_ = false;
};

}  // namespace

class EtcdClient::Impl {
 public:
  explicit Impl(EtcdOptions options) : options_(std::move(options)) {
    if (options_.endpoints.empty()) {
      throw ConfigError("no etcd endpoint given: name at least one, e.g. --etcd http://127.0.0.1:2379");
    }
    if (options_.cert_file.empty() != options_.key_file.empty()) {
      throw ConfigError("a client certificate needs its key and the other way round: give both --cert and --key");
    }
    if (options_.user.empty() && !options_.password.empty()) {
      throw ConfigError("an etcd password was given without a user: give --user too");
    }
    std::vector<Endpoint> endpoints;
    bool any_tls = !options_.ca_file.empty() || !options_.cert_file.empty();
    for (const auto& url : options_.endpoints) {
      endpoints.push_back(detail::parse_endpoint(url));
      any_tls = any_tls || endpoints.back().tls;
    }
    credentials_ = any_tls ? tls_credentials() : grpc::InsecureChannelCredentials();
    auto& arguments = arguments_;
    arguments.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    // Each channel its own subchannels: a replaced channel must not inherit the failed one's.
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    // gRPC waits up to two minutes before reconnecting to an endpoint that failed; an etcd that
    // restarts must be found again within a second.
    arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    for (auto& endpoint : endpoints) {
      Connection connection;
      connection.stubs = connect(endpoint);
      connection.endpoint = std::move(endpoint);
      connections_.push_back(std::move(connection));
    }
  }

  // Runs `invoke(connection, context, response)` on the current endpoint, moving on to the next
  // endpoints while they cannot be reached.
  template <class Response, class Invoke>
  Response call(const char* what, Invoke invoke) {
    std::string last_failure;
    std::optional<EtcdFailover> failover;
    for (std::size_t tried = 0; tried < connections_.size(); ++tried) {
      auto index = current();
      auto& connection = connections_[index];
      for (int attempt = 0; attempt < 2; ++attempt) {
        grpc::ClientContext context;
        prepare(context, connection);
        auto stubs = stubs_of(connection);
        Response response;
        auto status = invoke(*stubs, context, response);
        if (unreachable(status)) {
          last_failure = fmt::format("{}: {}", connection.endpoint.url, status.error_message());
          note_lost(failover, connection, status.error_message());
          reconnect(connection, stubs);
          break;
        }
        report_failover(failover, connection);
        if (status.ok()) {
          cluster_id_.store(response.header().cluster_id(), std::memory_order_relaxed);
          return response;
        }
        if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED && !options_.user.empty() && attempt == 0) {
          forget_token(connection);  // expired: authenticate again
          continue;
        }
        throw EtcdError(
            fmt::format("etcd at {} refused to {}: {}", connection.endpoint.url, what, status.error_message()));
      }
      move_past(index);
    }
    throw EtcdUnavailable(
        fmt::format("cannot reach etcd to {} ({}); check that etcd runs at {} and that this "
                    "host can connect to it",
                    what, last_failure, fmt::join(options_.endpoints, ", ")));
  }

  std::unique_ptr<EtcdWatch> watch(const std::string& prefix, std::int64_t start_revision) {
    std::string last_failure;
    std::optional<EtcdFailover> failover;
    for (std::size_t tried = 0; tried < connections_.size(); ++tried) {
      auto index = current();
      auto& connection = connections_[index];
      auto watch = std::make_unique<GrpcWatch>();
      prepare_stream(watch->context(), connection);
      auto stubs = stubs_of(connection);
      auto started = watch->start(*stubs->watch, prefix, start_revision, connection.endpoint.url);
      if (started || !watch->unreachable_endpoint()) {
        report_failover(failover, connection);
      }
      if (started) {
        return watch;
      }
      if (!watch->unreachable_endpoint()) {
        throw EtcdError(watch->error());
      }
      last_failure = watch->error();
      note_lost(failover, connection, watch->error());
      reconnect(connection, stubs);
      move_past(index);
    }
    throw EtcdUnavailable(fmt::format("cannot reach etcd to watch {} ({}); check that etcd runs at {}", prefix,
                                      last_failure, fmt::join(options_.endpoints, ", ")));
  }

  std::string current_endpoint() const { return connections_[current()].endpoint.url; }

  std::uint64_t cluster_id() const noexcept { return cluster_id_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<grpc::ChannelCredentials> tls_credentials() const {
    grpc::SslCredentialsOptions ssl;
    if (!options_.ca_file.empty()) {
      ssl.pem_root_certs = read_pem(options_.ca_file, "certificate authority");
    }
    if (!options_.cert_file.empty()) {
      ssl.pem_cert_chain = read_pem(options_.cert_file, "client certificate");
      ssl.pem_private_key = read_pem(options_.key_file, "client key");
    }
    return grpc::SslCredentials(ssl);
  }

  std::shared_ptr<Stubs> connect(const Endpoint& endpoint) const {
    auto stubs = std::make_shared<Stubs>();
    stubs->channel = grpc::CreateCustomChannel(endpoint.target, credentials_, arguments_);
    stubs->kv = etcdserverpb::KV::NewStub(stubs->channel);
    stubs->lease = etcdserverpb::Lease::NewStub(stubs->channel);
    stubs->watch = etcdserverpb::Watch::NewStub(stubs->channel);
    stubs->auth = etcdserverpb::Auth::NewStub(stubs->channel);
    return stubs;
  }

  std::shared_ptr<Stubs> stubs_of(const Connection& connection) const {
    std::lock_guard guard(mutex_);
    return connection.stubs;
  }

  // Replaces the channel that just failed (unless another thread already did).
  void reconnect(Connection& connection, const std::shared_ptr<Stubs>& failed) {
    auto fresh = connect(connection.endpoint);
    std::lock_guard guard(mutex_);
    if (connection.stubs == failed) {
      connection.stubs = std::move(fresh);
    }
  }

  // The first member of a call that did not answer: the one the client was talking to.
  static void note_lost(std::optional<EtcdFailover>& failover, const Connection& connection, std::string reason) {
    if (!failover) {
      failover = EtcdFailover{connection.endpoint.url, {}, std::move(reason)};
    }
  }

  // `connection` answered after the member noted by note_lost() did not: the observer is told.
  void report_failover(std::optional<EtcdFailover>& failover, const Connection& connection) const {
    if (!failover || !options_.on_failover) {
      return;
    }
    failover->used = connection.endpoint.url;
    try {
      options_.on_failover(*failover);
    } catch (...) {  // ignored, as documented: an observer must not fail a call that succeeded
    }
    failover.reset();
  }

  std::size_t current() const {
    std::lock_guard guard(mutex_);
    return current_;
  }

  void move_past(std::size_t index) {
    std::lock_guard guard(mutex_);
    if (current_ == index) {
      current_ = (index + 1) % connections_.size();
    }
  }

  void prepare(grpc::ClientContext& context, Connection& connection) {
    context.set_deadline(std::chrono::system_clock::now() + options_.request_timeout);
    add_token(context, connection);
  }

  void prepare_stream(grpc::ClientContext& context, Connection& connection) { add_token(context, connection); }

  void add_token(grpc::ClientContext& context, Connection& connection) {
    if (options_.user.empty()) {
      return;
    }
    std::lock_guard guard(auth_mutex_);
    if (connection.token.empty()) {
      connection.token = authenticate(connection);
    }
    context.AddMetadata("token", connection.token);
  }

  void forget_token(Connection& connection) {
    std::lock_guard guard(auth_mutex_);
    connection.token.clear();
  }

  std::string authenticate(Connection& connection) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + options_.request_timeout);
    etcdserverpb::AuthenticateRequest request;
    request.set_name(options_.user);
    request.set_password(options_.password);
    etcdserverpb::AuthenticateResponse response;
    auto status = stubs_of(connection)->auth->Authenticate(&context, request, &response);
    if (unreachable(status)) {
      return {};  // the call itself will fail as unreachable and move on
    }
    if (!status.ok()) {
      throw EtcdError(fmt::format("etcd at {} refused the user '{}': {}; check --user and --password",
                                  connection.endpoint.url, options_.user, status.error_message()));
    }
    return response.token();
  }

  EtcdOptions options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  grpc::ChannelArguments arguments_;
  std::vector<Connection> connections_;
  mutable std::mutex mutex_;
  std::size_t current_ = 0;
  std::mutex auth_mutex_;
  std::atomic<std::uint64_t> cluster_id_{0};
};

EtcdClient::EtcdClient(EtcdOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
EtcdClient::~EtcdClient() = default;
EtcdClient::EtcdClient(EtcdClient&&) noexcept = default;
EtcdClient& EtcdClient::operator=(EtcdClient&&) noexcept = default;

RangeResult EtcdClient::range_prefix(const std::string& prefix) {
  etcdserverpb::RangeRequest request;
  request.set_key(prefix);
  request.set_range_end(prefix_range_end(prefix));
  auto response = impl_->call<etcdserverpb::RangeResponse>(
      "read", [&](Stubs& stubs, grpc::ClientContext& context, etcdserverpb::RangeResponse& out) {
        return stubs.kv->Range(&context, request, &out);
      });
  RangeResult result;
  result.revision = response.header().revision();
  result.values.reserve(static_cast<std::size_t>(response.kvs_size()));
  for (const auto& wire : response.kvs()) {
    result.values.push_back(from_wire(wire));
  }
  return result;
}

std::int64_t EtcdClient::put(const std::string& key, const std::string& value, std::int64_t lease) {
  etcdserverpb::PutRequest request;
  request.set_key(key);
  request.set_value(value);
  request.set_lease(lease);
  auto response = impl_->call<etcdserverpb::PutResponse>(
      "write", [&](Stubs& stubs, grpc::ClientContext& context, etcdserverpb::PutResponse& out) {
        return stubs.kv->Put(&context, request, &out);
      });
  return response.header().revision();
}

std::optional<std::int64_t> EtcdClient::create(const std::string& key, const std::string& value, std::int64_t lease) {
  etcdserverpb::TxnRequest request;
  auto* compare = request.add_compare();
  compare->set_key(key);
  compare->set_target(etcdserverpb::Compare::CREATE);
  compare->set_result(etcdserverpb::Compare::EQUAL);
  compare->set_create_revision(0);
  auto* put = request.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  auto response = impl_->call<etcdserverpb::TxnResponse>(
      "create a key", [&](Stubs& stubs, grpc::ClientContext& context, etcdserverpb::TxnResponse& out) {
        return stubs.kv->Txn(&context, request, &out);
      });
  if (!response.succeeded()) {
    return std::nullopt;
  }
  return response.header().revision();
}

bool EtcdClient::delete_if_unchanged(const std::string& key, std::int64_t mod_revision) {
  etcdserverpb::TxnRequest request;
  auto* compare = request.add_compare();
  compare->set_key(key);
  compare->set_target(etcdserverpb::Compare::MOD);
  compare->set_result(etcdserverpb::Compare::EQUAL);
  compare->set_mod_revision(mod_revision);
  request.add_success()->mutable_request_delete_range()->set_key(key);
  auto response = impl_->call<etcdserverpb::TxnResponse>(
      "delete a key", [&](Stubs& stubs, grpc::ClientContext& context, etcdserverpb::TxnResponse& out) {
        return stubs.kv->Txn(&context, request, &out);
      });
  return response.succeeded();
}

bool EtcdClient::delete_key(const std::string& key) {
  etcdserverpb::DeleteRangeRequest request;
  request.set_key(key);
  auto response = impl_->call<etcdserverpb::DeleteRangeResponse>(
      "delete a key", [&](Stubs& stubs, grpc::ClientContext& context, etcdserverpb::DeleteRangeResponse& out) {
        return stubs.kv->DeleteRange(&context, request, &out);
      });
  return response.deleted() > 0;
}

LeaseGrant EtcdClient::grant_lease(std::chrono::seconds ttl) {
  etcdserverpb::LeaseGrantRequest request;
  request.set_ttl(ttl.count());
  auto response = impl_->call<etcdserverpb::LeaseGrantResponse>(
      "grant a lease", [&](Stubs& stubs, grpc::ClientContext& context, etcdserverpb::LeaseGrantResponse& out) {
        return stubs.lease->LeaseGrant(&context, request, &out);
      });
  if (!response.error().empty()) {
    throw EtcdError(fmt::format("etcd refused to grant a lease: {}", response.error()));
  }
  return LeaseGrant{response.id(), std::chrono::seconds(response.ttl())};
}

std::chrono::seconds EtcdClient::keep_alive(std::int64_t lease) {
  // One short stream per renewal: a renewal every few seconds costs nothing, and a stream with a
  // deadline cannot hang on a silent network the way a long-lived one can.
  etcdserverpb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  auto response = impl_->call<etcdserverpb::LeaseKeepAliveResponse>(
      "renew a lease", [&](Stubs& stubs, grpc::ClientContext& context, etcdserverpb::LeaseKeepAliveResponse& out) {
        auto stream = stubs.lease->LeaseKeepAlive(&context);
        if (stream->Write(request) && stream->Read(&out)) {
          context.TryCancel();
          stream->Finish();
          return grpc::Status::OK;
        }
        return stream->Finish();
      });
  return std::chrono::seconds(response.ttl() > 0 ? response.ttl() : 0);
}

void EtcdClient::revoke_lease(std::int64_t lease) {
  etcdserverpb::LeaseRevokeRequest request;
  request.set_id(lease);
  impl_->call<etcdserverpb::LeaseRevokeResponse>(
      "revoke a lease", [&](Stubs& stubs, grpc::ClientContext& context, etcdserverpb::LeaseRevokeResponse& out) {
        auto status = stubs.lease->LeaseRevoke(&context, request, &out);
        return status.error_code() == grpc::StatusCode::NOT_FOUND ? grpc::Status::OK : status;
      });
}

std::unique_ptr<EtcdWatch> EtcdClient::watch_prefix(const std::string& prefix, std::int64_t start_revision) {
  return impl_->watch(prefix, start_revision);
}

std::string EtcdClient::current_endpoint() const { return impl_->current_endpoint(); }

std::uint64_t EtcdClient::cluster_id() const noexcept { return impl_->cluster_id(); }

void quiet_transport_log() {
  gpr_set_log_function([](gpr_log_func_args* /*message*/) {});
}

std::string prefix_range_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    auto& last = end.back();
    if (static_cast<unsigned char>(last) < 0xff) {
      last = static_cast<char>(static_cast<unsigned char>(last) + 1);
      return end;
    }
    end.pop_back();
  }
  std::string every_key(1, '\0');  // "\0" as range_end: every key from `key` on
  return every_key;
}

}  // namespace portpool::fleet
