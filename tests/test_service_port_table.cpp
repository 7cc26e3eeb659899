#include <portpool/service_port_table.hpp>

#include "example_application_table.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

using Catch::Matchers::Contains;
using portpool::ConfigError;
using portpool::InstanceLayout;
using portpool::ServicePortTable;
using portpool::test::example_application_table;
using Ports = std::vector<std::uint16_t>;

TEST_CASE("a table of instance-relative and shared pools gives each instance its ports") {
  auto table = example_application_table();
  REQUIRE_NOTHROW(table.validate());
  CHECK(table.services() == std::vector<std::string>{"mcp-universal", "ollama-mcp", "groq-api", "sandra-ia",
                                                     "conversational", "api-server"});
  CHECK(table.pool_for("mcp-universal", 1) == Ports{6000, 6001, 6002});
  CHECK(table.pool_for("ollama-mcp", 1) == Ports{6010, 6011, 6012});
  CHECK(table.pool_for("groq-api", 3) == Ports{6220, 6221, 6222});
  CHECK(table.pool_for("sandra-ia", 2) == Ports{6130, 6131, 6132, 6133});
  CHECK(table.pool_for("conversational", 4) == Ports{7000, 7001, 7002, 7003, 7004});
  CHECK(table.pool_for("api-server", 2) == Ports{9000, 9001, 9002});
  CHECK(table.layout().max == 10);
  CHECK(table.is_shared("api-server"));
  CHECK_FALSE(table.is_shared("sandra-ia"));
}

namespace {

template <class Table, class = void>
struct has_member_from_file : std::false_type {};

template <class Table>
struct has_member_from_file<Table, std::void_t<decltype(&Table::from_file)>> : std::true_type {};

}  // namespace

// Loading a file needs toml++ and lives in config_file.hpp (load_table_file): the table's header
// declares nothing that only that header would define, so a program without it cannot fail to link.
TEST_CASE("the table's header declares no file loader that it does not define") {
  STATIC_REQUIRE_FALSE(has_member_from_file<ServicePortTable>::value);
}

TEST_CASE("shared pools are searched from index (N-1) mod size, instance pools from their start") {
  auto table = example_application_table();
  CHECK(table.search_order("api-server", 1) == Ports{9000, 9001, 9002});
  CHECK(table.search_order("api-server", 2) == Ports{9001, 9002, 9000});
  CHECK(table.search_order("api-server", 3) == Ports{9002, 9000, 9001});
  CHECK(table.search_order("api-server", 4) == Ports{9000, 9001, 9002});
  CHECK(table.search_order("sandra-ia", 2) == Ports{6130, 6131, 6132, 6133});
}

TEST_CASE("instance 11 of the example layout would collide with conversational, and the error says so") {
  ServicePortTable table(InstanceLayout{6000, 100, 11});
  table.add_instance_pool("mcp-universal", 0, 3).add_shared_range("conversational", 7000, 7004);
  REQUIRE_THROWS_MATCHES(
      table.validate(), ConfigError, Catch::Matchers::Predicate<ConfigError>([](const ConfigError& error) {
        std::string text = error.what();
        return text.find("mcp-universal") != std::string::npos && text.find("conversational") != std::string::npos &&
               text.find("7000") != std::string::npos && text.find("instance 11") != std::string::npos &&
               text.find("max to 10") != std::string::npos;
      }));
}

TEST_CASE("pool_for rejects unknown services and instances out of range") {
  auto table = example_application_table();
  CHECK_THROWS_WITH(table.pool_for("nope", 1), Contains("unknown service 'nope'") && Contains("api-server"));
  CHECK_THROWS_WITH(table.pool_for("api-server", 0), Contains("instance 0 is out of range"));
  CHECK_THROWS_WITH(table.pool_for("api-server", 11), Contains("1 to 10"));
}

TEST_CASE("validation rejects overlaps, ports outside 1..65535 and offsets beyond the stride") {
  SECTION("two shared pools overlap") {
    ServicePortTable table;
    table.add_shared_range("a", 100, 110).add_shared_pool("b", {120, 105});
    CHECK_THROWS_WITH(table.validate(), Contains("port 105") && Contains("'a'") && Contains("'b'"));
  }
  SECTION("instance pools of different services overlap") {
    ServicePortTable table(InstanceLayout{1000, 10, 2});
    table.add_instance_pool("a", 0, 5).add_instance_pool("b", 4, 3);
    CHECK_THROWS_WITH(table.validate(), Contains("port 1004") && Contains("'a'") && Contains("'b'"));
  }
  SECTION("an offset that does not fit the stride") {
    ServicePortTable table(InstanceLayout{1000, 10, 2});
    table.add_instance_pool("wide", 8, 3);
    CHECK_THROWS_WITH(table.validate(), Contains("'wide'") && Contains("stride"));
  }
  SECTION("the last instance runs past 65535") {
    ServicePortTable table(InstanceLayout{65000, 400, 3});
    table.add_instance_pool("high", 0, 3);
    CHECK_THROWS_WITH(table.validate(), Contains("'high'") && Contains("65800") && Contains("max to 2"));
    CHECK_THROWS_WITH(table.pool_for("high", 3), Contains("outside 1..65535"));
  }
  SECTION("port 0 and ports above 65535") {
    ServicePortTable zero;
    zero.add_shared_pool("zero", {0, 1});
    CHECK_THROWS_WITH(zero.validate(), Contains("port 0"));
    ServicePortTable high;
    high.add_shared_range("high", 65535, 65536);
    CHECK_THROWS_WITH(high.validate(), Contains("65536"));
  }
  SECTION("an empty table") { CHECK_THROWS_AS(ServicePortTable{}.validate(), ConfigError); }
  SECTION("a layout or a pool size beyond 65535, as the TOML reader refuses them") {
    ServicePortTable huge_max(InstanceLayout{1000, 10, 4000000000U});  // would take minutes to walk
    huge_max.add_shared_range("web", 900, 901);
    CHECK_THROWS_WITH(huge_max.validate(), Contains("max 4000000000") && Contains("1..65535"));
    ServicePortTable huge_base(InstanceLayout{70000, 10, 1});
    huge_base.add_shared_range("web", 900, 901);
    CHECK_THROWS_WITH(huge_base.validate(), Contains("base 70000") && Contains("1..65535"));
    ServicePortTable huge_size(InstanceLayout{1000, 100000, 1});
    huge_size.add_instance_pool("wide", 0, 70000);
    CHECK_THROWS_WITH(huge_size.validate(), Contains("1..65535"));
  }
}

TEST_CASE("building a table rejects bad names, duplicates and empty pools at once") {
  ServicePortTable table;
  CHECK_THROWS_WITH(table.add_instance_pool("has space", 0, 1), Contains("'has space' is invalid"));
  CHECK_THROWS_WITH(table.add_instance_pool("", 0, 1), Contains("invalid"));
  CHECK_THROWS_WITH(table.add_instance_pool("zero", 0, 0), Contains("size 0"));
  CHECK_THROWS_WITH(table.add_shared_pool("empty", {}), Contains("empty"));
  CHECK_THROWS_WITH(table.add_shared_pool("twice", {5, 6, 5}), Contains("port 5 twice"));
  CHECK_THROWS_WITH(table.add_shared_range("backwards", 10, 5), Contains("below its start"));
  table.add_shared_range("one", 10, 12);
  CHECK_THROWS_WITH(table.add_shared_range("one", 20, 22), Contains("defined twice"));
  CHECK(table.services() == std::vector<std::string>{"one"});
}
