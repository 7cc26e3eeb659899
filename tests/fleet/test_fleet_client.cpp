// The etcd v3 client against a real etcd (the fleet_etcd fixture): KV, transactions, leases,
// watches, endpoint failover and the errors a user can cause.

#include "fleet_test.hpp"

#include <portpool/error.hpp>
#include <portpool/fleet/etcd_client.hpp>
#include <portpool/fleet/fleet_error.hpp>

#include <catch2/catch.hpp>

#include <thread>

using namespace portpool;
using namespace portpool::fleet;
using namespace portpool::test;

TEST_CASE("put, range by prefix and compare-and-swap delete") {
  EtcdClient etcd(etcd_options(shared_etcd()));
  auto prefix = unique_prefix();
  auto first = etcd.put(prefix + "/b", "two");
  auto second = etcd.put(prefix + "/a", "one");
  CHECK(second > first);
  etcd.put(prefix + "x/outside", "not under the prefix/");

  auto range = etcd.range_prefix(prefix + "/");
  REQUIRE(range.values.size() == 2);
  CHECK(range.values[0].key == prefix + "/a");
  CHECK(range.values[0].value == "one");
  CHECK(range.values[1].mod_revision == first);
  CHECK(range.revision >= second);

  CHECK_FALSE(etcd.delete_if_unchanged(prefix + "/b", first - 1));  // a late delete: someone wrote since
  CHECK(etcd.range_prefix(prefix + "/").values.size() == 2);
  CHECK(etcd.delete_if_unchanged(prefix + "/b", first));
  CHECK(etcd.range_prefix(prefix + "/").values.size() == 1);
  CHECK(etcd.delete_key(prefix + "/a"));
  CHECK_FALSE(etcd.delete_key(prefix + "/a"));
}

TEST_CASE("create writes only a key that does not exist") {
  EtcdClient etcd(etcd_options(shared_etcd()));
  auto key = unique_prefix() + "/claim";
  auto lease = etcd.grant_lease(std::chrono::seconds(30));
  auto created = etcd.create(key, "mine", lease.id);
  REQUIRE(created);
  CHECK_FALSE(etcd.create(key, "theirs", lease.id));
  auto range = etcd.range_prefix(key);
  REQUIRE(range.values.size() == 1);
  CHECK(range.values[0].value == "mine");
  CHECK(range.values[0].lease == lease.id);
  CHECK(range.values[0].create_revision == *created);
  etcd.revoke_lease(lease.id);
}

TEST_CASE("a revoked lease takes its keys with it, and renewing it gives 0") {
  EtcdClient etcd(etcd_options(shared_etcd()));
  auto prefix = unique_prefix();
  auto lease = etcd.grant_lease(std::chrono::seconds(30));
  CHECK(lease.ttl.count() >= 30);
  etcd.put(prefix + "/leased", "v", lease.id);
  etcd.put(prefix + "/kept", "v");
  CHECK(etcd.keep_alive(lease.id).count() > 0);
  etcd.revoke_lease(lease.id);
  auto range = etcd.range_prefix(prefix + "/");
  REQUIRE(range.values.size() == 1);
  CHECK(range.values[0].key == prefix + "/kept");
  CHECK(etcd.keep_alive(lease.id).count() == 0);
  CHECK_NOTHROW(etcd.revoke_lease(lease.id));
  CHECK_THROWS_AS(etcd.put(prefix + "/orphan", "v", lease.id), EtcdError);
}

TEST_CASE("a lease that is not renewed expires with its keys") {
  EtcdClient etcd(etcd_options(shared_etcd()));
  auto prefix = unique_prefix();
  auto lease = etcd.grant_lease(std::chrono::seconds(1));
  etcd.put(prefix + "/short", "v", lease.id);
  CHECK(wait_until([&] { return etcd.range_prefix(prefix + "/").values.empty(); }, std::chrono::seconds(10)));
}

TEST_CASE("a watch sees puts and deletes from its start revision") {
  EtcdClient etcd(etcd_options(shared_etcd()));
  auto prefix = unique_prefix();
  auto before = etcd.put(prefix + "/a", "1");  // before the watch's start: not reported
  auto watch = etcd.watch_prefix(prefix + "/", before + 1);
  etcd.put(prefix + "/b", "2");
  etcd.delete_key(prefix + "/a");
  std::vector<WatchEvent> events;
  WatchBatch batch;
  while (events.size() < 2 && watch->next(batch)) {
    events.insert(events.end(), batch.events.begin(), batch.events.end());
  }
  REQUIRE(events.size() == 2);
  CHECK(events[0].type == WatchEvent::Type::put);
  CHECK(events[0].value.key == prefix + "/b");
  CHECK(events[0].value.value == "2");
  CHECK(events[1].type == WatchEvent::Type::deleted);
  CHECK(events[1].value.key == prefix + "/a");
}

TEST_CASE("cancel ends a blocked watch") {
  EtcdClient etcd(etcd_options(shared_etcd()));
  auto watch = etcd.watch_prefix(unique_prefix() + "/", 0);
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    watch->cancel();
  });
  WatchBatch batch;
  CHECK_FALSE(watch->next(batch));
  CHECK(watch->error().empty());
  canceller.join();
}

TEST_CASE("an endpoint that cannot be reached is skipped for the next one") {
  ReservedPorts closed = ReservedPorts::any(1);  // reserved, never listened on: connections are refused
  auto dead = "http://127.0.0.1:" + std::to_string(closed[0]);
  auto options = etcd_options(dead);
  options.endpoints.push_back(shared_etcd());
  EtcdClient etcd(options);
  auto prefix = unique_prefix();
  etcd.put(prefix + "/k", "v");
  CHECK(etcd.range_prefix(prefix + "/").values.size() == 1);
  CHECK(etcd.current_endpoint() == shared_etcd());
}

TEST_CASE("moving past an endpoint that cannot be reached is told once, naming both endpoints") {
  ReservedPorts closed = ReservedPorts::any(1);
  auto dead = "http://127.0.0.1:" + std::to_string(closed[0]);
  auto options = etcd_options(dead);
  options.endpoints.push_back(shared_etcd());
  std::vector<EtcdFailover> told;
  options.on_failover = [&told](const EtcdFailover& failover) { told.push_back(failover); };
  EtcdClient etcd(options);
  auto prefix = unique_prefix();
  etcd.put(prefix + "/k", "v");
  REQUIRE(told.size() == 1);
  CHECK(told[0].lost == dead);
  CHECK(told[0].used == shared_etcd());
  CHECK_FALSE(told[0].reason.empty());
  CHECK(etcd.range_prefix(prefix + "/").values.size() == 1);  // stays with the member that answers
  CHECK(told.size() == 1);

  told.clear();
  auto all_dead = etcd_options(dead);
  all_dead.on_failover = options.on_failover;
  EtcdClient nobody(all_dead);
  CHECK_THROWS_AS(nobody.range_prefix(prefix + "/"), EtcdUnavailable);
  CHECK(told.empty());  // no member answered: the exception says so, not a failover
}

TEST_CASE("no reachable endpoint: EtcdUnavailable names it") {
  ReservedPorts closed = ReservedPorts::any(1);
  auto dead = "http://127.0.0.1:" + std::to_string(closed[0]);
  EtcdClient etcd(etcd_options(dead));
  CHECK_THROWS_WITH(etcd.range_prefix("/x"), Catch::Contains(dead) && Catch::Contains("cannot reach etcd"));
  CHECK_THROWS_AS(etcd.grant_lease(std::chrono::seconds(5)), EtcdUnavailable);
  CHECK_THROWS_AS(etcd.watch_prefix("/x/", 0), EtcdUnavailable);
}

TEST_CASE("wrong options are configuration errors, before any connection") {
  auto with_endpoints = [](std::vector<std::string> endpoints) {
    EtcdOptions options;
    options.endpoints = std::move(endpoints);
    return options;
  };
  CHECK_THROWS_WITH(EtcdClient(with_endpoints({})), Catch::Contains("no etcd endpoint"));
  for (const char* wrong : {"ftp://127.0.0.1:2379", "http://127.0.0.1", "http://127.0.0.1:0", "http://127.0.0.1:99999",
                            "http://bad host:2379", "127.0.0.1:abc"}) {
    INFO(wrong);
    CHECK_THROWS_AS(EtcdClient(with_endpoints({wrong})), ConfigError);
  }
  auto options = with_endpoints({"https://127.0.0.1:2379"});
  options.ca_file = "/nonexistent/ca.pem";
  CHECK_THROWS_WITH(EtcdClient(options), Catch::Contains("/nonexistent/ca.pem"));
  options = with_endpoints({"http://127.0.0.1:2379"});
  options.cert_file = "/some/cert.pem";
  CHECK_THROWS_WITH(EtcdClient(options), Catch::Contains("--key"));
}

TEST_CASE("TLS: a client with the CA and a client certificate talks to an etcd that requires them") {
  TempDir directory;
  auto server = start_etcd(directory.path(), true);
  EtcdStopper stopper(server);
  auto options = etcd_options(server.endpoint());
  options.ca_file = server.certificate().string();
  options.cert_file = server.certificate().string();
  options.key_file = server.key().string();
  {
    EtcdClient etcd(options);
    auto prefix = unique_prefix();
    etcd.put(prefix + "/secure", "v");
    CHECK(etcd.range_prefix(prefix + "/").values.size() == 1);
  }
  SECTION("without a client certificate, etcd refuses the connection") {
    auto anonymous = etcd_options(server.endpoint());
    anonymous.ca_file = server.certificate().string();
    anonymous.request_timeout = std::chrono::seconds(2);
    EtcdClient etcd(anonymous);
    CHECK_THROWS_AS(etcd.range_prefix("/x"), EtcdUnavailable);
  }
  SECTION("plain text to a TLS endpoint fails") {
    auto plain = etcd_options("http://127.0.0.1:" + std::to_string(server.client_port));
    plain.request_timeout = std::chrono::seconds(2);
    EtcdClient etcd(plain);
    CHECK_THROWS_AS(etcd.range_prefix("/x"), Error);
  }
}
