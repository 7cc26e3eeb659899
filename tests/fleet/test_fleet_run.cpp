// `portpool run` of a fleet-wide service (scope = "fleet"): the port is claimed in etcd before it is
// locked on the host, so two hosts (two lock directories, two host ids) take turns on a one-port
// pool; an unreachable etcd, or no --etcd, is a clear error; host services never need etcd.

#include "fleet_test.hpp"

#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <signal.h>

#include <fstream>

using namespace portpool::test;

namespace {

// A table with the fleet-wide service `scheduler` and the host service `local`, one port each.
std::string write_table(const TempDir& directory, std::uint16_t fleet_port, std::uint16_t host_port) {
  auto path = (directory.path() / "table.toml").string();
  std::ofstream(path) << fmt::format(
      "[services.scheduler]\nports = [{}]\nscope = \"fleet\"\n\n[services.local]\nports = [{}]\n", fleet_port,
      host_port);
  return path;
}

std::vector<std::string> run_arguments(const std::string& table, const TempDir& host, const std::string& host_id,
                                       const std::vector<std::string>& etcd, const std::string& service,
                                       const std::vector<std::string>& command) {
  std::vector<std::string> arguments{"run",       "--config", table, "--lock-dir", host.lock_dir().string(),
                                     "--host-id", host_id};
  arguments.insert(arguments.end(), etcd.begin(), etcd.end());
  arguments.push_back(service);
  arguments.emplace_back("--");
  arguments.insert(arguments.end(), command.begin(), command.end());
  return arguments;
}

std::string unreachable_endpoint() {
  auto closed = ReservedPorts::any(1);
  return "http://127.0.0.1:" + std::to_string(closed[0]);
}

}  // namespace

TEST_CASE("run of a fleet service: a second host gets no port while the first runs, then gets it") {
  auto endpoint = shared_etcd();
  std::vector<std::string> etcd{"--etcd", endpoint, "--prefix", seeded_prefix(endpoint)};
  TempDir scratch;
  TempDir host_a;
  TempDir host_b;
  auto ports = ReservedPorts::any(2);
  auto table = write_table(scratch, ports[0], ports[1]);

  auto first = spawn_cli(run_arguments(table, host_a, "host-a", etcd, "scheduler",
                                       {"/bin/sh", "-c", "echo holding {port}; exec sleep 600"}),
                         scratch.path() / "first.log");
  auto holding = first.read_line();
  REQUIRE(holding);
  CHECK(*holding == "holding " + std::to_string(ports[0]));

  auto refused = run_cli(run_arguments(table, host_b, "host-b", etcd, "scheduler", {"/bin/true"}));
  CHECK(refused.exit_code == 75);
  CHECK_THAT(refused.err, Catch::Contains("claimed in the fleet by host host-a"));
  CHECK(refused.out.empty());

  first.signal(SIGTERM);
  first.wait();
  auto second =
      run_cli(run_arguments(table, host_b, "host-b", etcd, "scheduler", {"/bin/sh", "-c", "echo got {port}"}));
  CHECK(second.exit_code == 0);
  CHECK(second.out == "got " + std::to_string(ports[0]) + '\n');
}

TEST_CASE("run of a fleet service gives CMD the claim's fencing token, higher for each later claim") {
  auto endpoint = shared_etcd();
  std::vector<std::string> etcd{"--etcd", endpoint, "--prefix", seeded_prefix(endpoint)};
  TempDir scratch;
  TempDir host_a;
  TempDir host_b;
  auto ports = ReservedPorts::any(2);
  auto table = write_table(scratch, ports[0], ports[1]);
  const std::vector<std::string> print_token{"/bin/sh", "-c",
                                             "echo \"$PORTPOOL_FENCING_TOKEN $PORTPOOL_FENCING_CLUSTER\""};
  auto first = run_cli(run_arguments(table, host_a, "host-a", etcd, "scheduler", print_token));
  auto second = run_cli(run_arguments(table, host_b, "host-b", etcd, "scheduler", print_token));
  REQUIRE(first.exit_code == 0);
  REQUIRE(second.exit_code == 0);
  auto first_revision = std::stoll(first.out);
  auto second_revision = std::stoll(second.out);
  CHECK(first_revision > 0);
  CHECK(second_revision > first_revision);
  CHECK(first.out.substr(first.out.find(' ')) == second.out.substr(second.out.find(' ')));  // one cluster

  // A host-wide service has none.
  auto local = run_cli(
      run_arguments(table, host_a, "host-a", etcd, "local", {"/bin/sh", "-c", "echo \"[$PORTPOOL_FENCING_TOKEN]\""}));
  CHECK(local.exit_code == 0);
  CHECK(local.out == "[]\n");
}

TEST_CASE("run --socket of a fleet udp service passes its bound datagram socket, claimed in the fleet") {
  auto endpoint = shared_etcd();
  std::vector<std::string> etcd{"--etcd", endpoint, "--prefix", seeded_prefix(endpoint)};
  TempDir scratch;
  TempDir host_a;
  TempDir host_b;
  auto ports = ReservedPorts::any(1);
  auto table = (scratch.path() / "table.toml").string();
  std::ofstream(table) << fmt::format("[services.discovery]\nports = [{}]\nscope = \"fleet\"\ntransport = \"udp\"\n",
                                      ports[0]);
  auto arguments = run_arguments(table, host_a, "host-a", etcd, "discovery",
                                 {"/bin/sh", "-c", "echo $LISTEN_FDS $LISTEN_FDNAMES {port}; exec sleep 600"});
  arguments.insert(arguments.begin() + 1, "--socket");
  auto first = spawn_cli(arguments, scratch.path() / "first.log");
  auto given = first.read_line();
  REQUIRE(given);
  CHECK(*given == "1 discovery " + std::to_string(ports[0]));
  CHECK(bind_udp_on_address("127.0.0.1", ports[0]).get() < 0);  // the socket portpool bound has it

  auto refused = run_cli(run_arguments(table, host_b, "host-b", etcd, "discovery", {"/bin/true"}));
  CHECK(refused.exit_code == 75);
  CHECK_THAT(refused.err, Catch::Contains("claimed in the fleet by host host-a"));
  first.signal(SIGTERM);
  first.wait();
}

TEST_CASE("run of a fleet service with etcd unreachable exits 69 naming the endpoint, holding nothing") {
  TempDir scratch;
  TempDir host;
  auto ports = ReservedPorts::any(2);
  auto table = write_table(scratch, ports[0], ports[1]);
  auto dead = unreachable_endpoint();
  auto result = run_cli(run_arguments(table, host, "host-a", {"--etcd", dead}, "scheduler", {"/bin/echo", "ran"}));
  CHECK(result.exit_code == 69);
  CHECK_THAT(result.err, Catch::Contains(dead));
  CHECK(result.out.empty());
}

TEST_CASE("run of a fleet service without --etcd says to pass --etcd") {
  TempDir scratch;
  TempDir host;
  auto ports = ReservedPorts::any(2);
  auto table = write_table(scratch, ports[0], ports[1]);
  auto result = run_cli(run_arguments(table, host, "host-a", {}, "scheduler", {"/bin/echo", "ran"}));
  CHECK(result.exit_code == 64);
  CHECK_THAT(result.err, Catch::Contains("fleet-wide") && Catch::Contains("--etcd"));
  CHECK(result.out.empty());
}

TEST_CASE("run of a host service never talks to etcd, even when given one that is down") {
  TempDir scratch;
  TempDir host;
  auto ports = ReservedPorts::any(2);
  auto table = write_table(scratch, ports[0], ports[1]);
  auto result = run_cli(run_arguments(table, host, "host-a", {"--etcd", unreachable_endpoint()}, "local",
                                      {"/bin/sh", "-c", "echo {port}"}));
  CHECK(result.exit_code == 0);
  CHECK(result.out == std::to_string(ports[1]) + '\n');
}
