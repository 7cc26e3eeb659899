// examples/mcp_server as an MCP client sees it: two servers of two instances, each on its own
// pool, driven by the official TypeScript SDK's Client over the Streamable HTTP transport, and
// their answers compared with what the library reports.

#include "mcp_server_process.hpp"
#include "ports.hpp"
#include "skip.hpp"
#include "temp_dir.hpp"

#include <portpool/config_file.hpp>
#include <portpool/portpool.hpp>

#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace portpool::test;

namespace {

/// Instance N of mcp-universal gets ports base + (N - 1) * 10 .. + 2; two instances.
std::filesystem::path write_table(const TempDir& directory, std::uint16_t base) {
  auto path = directory.path() / "ports.toml";
  std::ofstream(path) << "[instances]\nbase = " << base << "\nstride = 10\nmax = 2\n\n"
                      << "[services.mcp-universal]\noffset = 0\nsize = 3\n";
  return path;
}

/// A socket listening on a free loopback port: a program outside portpool.
struct ForeignListener {
  ForeignListener() : socket(reserve(0)) {
    if (!socket || ::listen(socket.get(), 1) != 0) {
      throw std::runtime_error("cannot listen on a test port");
    }
    port = bound_port(socket.get());
  }
  portpool::UniqueFd socket;
  std::uint16_t port = 0;
};

nlohmann::json holder_json(const portpool::Holder& holder) {
  return {
      {"port", holder.port},        {"service", holder.service},   {"transport", portpool::to_string(holder.transport)},
      {"pid", holder.pid},          {"instance", holder.instance}, {"instance_id", holder.instance_id},
      {"verified", holder.verified}};
}

/// The registry's holders, as list_holders reports them (without the `since` times).
nlohmann::json registry_holders(const std::filesystem::path& lock_dir) {
  auto holders = nlohmann::json::array();
  for (const auto& holder : portpool::Registry::holders(lock_dir)) {
    holders.push_back(holder_json(holder));
  }
  return holders;
}

nlohmann::json reported_holders(const nlohmann::json& list_holders) {
  auto holders = list_holders.at("structured").at("holders");
  for (auto& holder : holders) {
    holder.erase("since");
  }
  return holders;
}

std::vector<std::string> tool_names(const nlohmann::json& report) {
  std::vector<std::string> names;
  for (const auto& tool : report.at("tools")) {
    names.push_back(tool.at("name"));
    CHECK(tool.at("inputSchema").at("type") == "object");
    CHECK(tool.at("outputSchema").at("type") == "object");
  }
  return names;
}

std::string text_of(const nlohmann::json& tool_result) {
  return tool_result.at("content").at(0).at("text").get<std::string>();
}

void check_protocol(const nlohmann::json& report) {
  CHECK(report.at("serverVersion").at("name") == "portpool-mcp-server");
  CHECK(report.at("protocolVersion") == "2025-11-25");
  CHECK(report.at("schemaErrors") == nlohmann::json::array());
  CHECK(report.at("serverCapabilities").contains("tools"));
  CHECK(tool_names(report) == std::vector<std::string>{"list_pools", "list_holders", "check_port"});
  CHECK(report.at("ping") == nlohmann::json::object());
  CHECK(report.at("unknownTool").at("code") == -32602);
  CHECK(report.at("unknownMethod").at("code") == -32601);
  const auto& raw = report.at("rawHttp");
  CHECK(raw.at("malformedJson").at("body").at("error").at("code") == -32700);
  CHECK(raw.at("malformedJson").at("body").at("id").is_null());
  CHECK(raw.at("malformedJson").at("contentType") == "application/json");
  CHECK(raw.at("notification").at("status") == 202);
  CHECK(raw.at("notification").at("body").is_null());
  CHECK(raw.at("invalidRequest").at("body").at("error").at("code") == -32600);
  CHECK(raw.at("getStream").at("status") == 405);
  CHECK(raw.at("getStream").at("allow") == "POST");
}

void check_argument_errors(const nlohmann::json& report) {
  CHECK(report.at("checkPortWithBadArgument").at("isError") == true);
  CHECK_THAT(text_of(report.at("checkPortWithBadArgument")), Catch::Contains("'port' must be an integer"));
  CHECK(report.at("checkPortOutOfRange").at("isError") == true);
  CHECK_THAT(text_of(report.at("checkPortOutOfRange")), Catch::Contains("from 1 to 65535, not 70000"));
  CHECK(report.at("checkPortWithBadTransport").at("isError") == true);
  CHECK_THAT(text_of(report.at("checkPortWithBadTransport")),
             Catch::Contains(R"('transport' must be "tcp", "udp" or "both", not "quic")"));
  CHECK(report.at("listPoolsOfMissingInstance").at("isError") == true);
  CHECK_THAT(text_of(report.at("listPoolsOfMissingInstance")), Catch::Contains("instance 99 is out of range"));
}

nlohmann::json pools_of(const nlohmann::json& list_pools) {
  return list_pools.at("structured").at("services").at(0).at("pool");
}

}  // namespace

TEST_CASE("two MCP servers of two instances answer the official SDK client about the machine's ports") {
  if (!std::filesystem::exists(MCP_SDK_PACKAGE)) {
    PORTPOOL_SKIP("the official MCP SDK is not installed (" << MCP_SDK_PACKAGE
                                                            << "): the npm registry was out of reach when "
                                                               "'mcp_server: install the MCP SDK' ran");
  }
  TempDir directory;
  auto ports = ReservedPorts::consecutive(13, 10);
  auto config = write_table(directory, ports[0]);
  auto table = portpool::load_table_file(config);
  auto first = McpServerProcess::start(config, directory.lock_dir(), 1);
  auto second = McpServerProcess::start(config, directory.lock_dir(), 2);
  CHECK(first.port() == ports[0]);
  CHECK(second.port() == ports[10]);
  ForeignListener foreign;
  auto free_port = ports[1];

  for (auto* server : {&first, &second}) {
    auto own_instance = server == &first ? 1U : 2U;
    CAPTURE(server->url());
    auto report = run_sdk_client(server->url(), {second.port(), foreign.port, free_port});
    check_protocol(report);
    check_argument_errors(report);

    CHECK(report.at("listPools").at("structured").at("instance") == own_instance);
    CHECK(pools_of(report.at("listPools")) == nlohmann::json(table.pool_for("mcp-universal", own_instance)));
    CHECK(pools_of(report.at("listPoolsOfInstance2")) == nlohmann::json(table.pool_for("mcp-universal", 2)));
    CHECK(report.at("listPools").at("structured").at("services").at(0).at("transport") == "tcp");

    auto holders = reported_holders(report.at("listHolders"));
    CHECK(holders == registry_holders(directory.lock_dir()));
    REQUIRE(holders.size() == 2);
    CHECK(holders.at(0).at("pid") == first.pid());
    CHECK(holders.at(0).at("port") == first.port());
    CHECK(holders.at(1).at("pid") == second.pid());
    CHECK(holders.at(1).at("port") == second.port());

    const auto& checks = report.at("checkPort");
    REQUIRE(checks.size() == 3);
    CHECK(checks.at(0).at("structured").at("status") == "held");
    CHECK(checks.at(0).at("structured").at("holder").at("pid") == second.pid());
    CHECK(checks.at(0).at("structured").at("holder").at("instance") == 2);
    CHECK(checks.at(0).at("structured").at("holder").at("transport") == "tcp");
    CHECK(checks.at(1).at("structured").at("status") == "in_use_outside_portpool");
    CHECK(checks.at(2).at("structured").at("status") == "free");
    for (const auto& check : checks) {
      CHECK(check.at("structured").at("transport") == "tcp");
    }
    // The lock is one per port number: held whatever the transport asked; a TCP listener leaves
    // the port free for UDP, not for both.
    const auto& udp_checks = report.at("checkPortUdp");
    const auto& both_checks = report.at("checkPortBoth");
    REQUIRE(udp_checks.size() == 3);
    REQUIRE(both_checks.size() == 3);
    CHECK(udp_checks.at(0).at("structured").at("status") == "held");
    CHECK(udp_checks.at(0).at("structured").at("transport") == "udp");
    CHECK(udp_checks.at(1).at("structured").at("status") == "free");
    CHECK(udp_checks.at(2).at("structured").at("status") == "free");
    CHECK(both_checks.at(0).at("structured").at("status") == "held");
    CHECK(both_checks.at(1).at("structured").at("status") == "in_use_outside_portpool");
    CHECK(both_checks.at(1).at("structured").at("transport") == "both");
    CHECK(both_checks.at(2).at("structured").at("status") == "free");
  }

  first.process().signal(SIGTERM);
  second.process().signal(SIGTERM);
  CHECK(first.process().exit_code() == 0);
  CHECK(second.process().exit_code() == 0);
  CHECK(portpool::Registry::holders(directory.lock_dir()).empty());
}
