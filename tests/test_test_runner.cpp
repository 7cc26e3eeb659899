// instance_from_environment(): test-runner worker variables to instance numbers.

#include <portpool/test_runner.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

using Catch::Matchers::Contains;

namespace {

// Each test case runs in its own process (ctest), so changing the environment stays local to it.
void clear_runner_variables() {
  for (const auto& variable : portpool::worker_variables) {
    ::unsetenv(std::string(variable.name).c_str());
  }
}

void set(const char* name, const char* value) { ::setenv(name, value, 1); }

}  // namespace

TEST_CASE("each test runner's worker variable maps to an instance number from 1") {
  clear_runner_variables();
  set("PYTEST_XDIST_WORKER", "gw0");
  CHECK(portpool::instance_from_environment() == 1);
  set("PYTEST_XDIST_WORKER", "gw7");
  CHECK(portpool::instance_from_environment() == 8);
  clear_runner_variables();
  set("JEST_WORKER_ID", "3");
  CHECK(portpool::instance_from_environment() == 3);
  clear_runner_variables();
  set("VITEST_POOL_ID", "1");
  CHECK(portpool::instance_from_environment() == 1);
  clear_runner_variables();
  set("TEST_PARALLEL_INDEX", "0");
  CHECK(portpool::instance_from_environment() == 1);
  set("TEST_PARALLEL_INDEX", "4");
  CHECK(portpool::instance_from_environment() == 5);
  clear_runner_variables();
  set("MOCHA_WORKER_ID", "0");
  CHECK(portpool::instance_from_environment() == 1);
  clear_runner_variables();
  set("NEXTEST_TEST_GLOBAL_SLOT", "0");
  CHECK(portpool::instance_from_environment() == 1);
  set("NEXTEST_TEST_GLOBAL_SLOT", "11");
  CHECK(portpool::instance_from_environment() == 12);
}

TEST_CASE("a named variable with +1 counts from 0, with +0 from 1") {
  clear_runner_variables();
  set("PORTPOOL_TEST_SLOT", "0");
  CHECK(portpool::instance_from_environment("PORTPOOL_TEST_SLOT+1") == 1);
  set("PORTPOOL_TEST_SLOT", "5");
  CHECK(portpool::instance_from_environment("PORTPOOL_TEST_SLOT+1") == 6);
  CHECK(portpool::instance_from_environment("PORTPOOL_TEST_SLOT+0") == 5);
  set("MOCHA_WORKER_ID", "1");
  CHECK(portpool::instance_from_environment("MOCHA_WORKER_ID+0") == 1);
  set("PORTPOOL_TEST_SLOT", "0");
  CHECK_THROWS_WITH(portpool::instance_from_environment("PORTPOOL_TEST_SLOT+0"),
                    Contains("PORTPOOL_TEST_SLOT is '0'") && Contains("a number from 1"));
  ::unsetenv("PORTPOOL_TEST_SLOT");
  CHECK_THROWS_WITH(portpool::instance_from_environment("PORTPOOL_TEST_SLOT+1"),
                    Contains("PORTPOOL_TEST_SLOT is not set"));
}

TEST_CASE("a named variable holds the instance number itself, unless it is a runner's variable") {
  clear_runner_variables();
  set("PORTPOOL_TEST_SHARD", "6");
  CHECK(portpool::instance_from_environment("PORTPOOL_TEST_SHARD") == 6);
  set("PYTEST_XDIST_WORKER", "gw2");
  CHECK(portpool::instance_from_environment("PYTEST_XDIST_WORKER") == 3);
}

TEST_CASE("no worker variable, or a malformed one, is an error naming the variable") {
  clear_runner_variables();
  CHECK_THROWS_WITH(portpool::instance_from_environment(),
                    Contains("PYTEST_XDIST_WORKER") && Contains("JEST_WORKER_ID") && Contains("VITEST_POOL_ID") &&
                        Contains("TEST_PARALLEL_INDEX") && Contains("MOCHA_WORKER_ID") &&
                        Contains("NEXTEST_TEST_GLOBAL_SLOT"));
  ::unsetenv("PORTPOOL_TEST_SHARD");
  CHECK_THROWS_AS(portpool::instance_from_environment("PORTPOOL_TEST_SHARD"), portpool::ConfigError);
  CHECK_THROWS_WITH(portpool::instance_from_environment("PORTPOOL_TEST_SHARD"),
                    Contains("PORTPOOL_TEST_SHARD is not set"));
  for (const char* malformed : {"", "gw", "gw-1", "1", "gw1x", "gw99999999999999999999"}) {
    INFO(malformed);
    set("PYTEST_XDIST_WORKER", malformed);
    CHECK_THROWS_WITH(portpool::instance_from_environment(), Contains("PYTEST_XDIST_WORKER"));
  }
  for (const char* malformed : {"0", "-1", "two", " 2", "2 "}) {
    INFO(malformed);
    set("JEST_WORKER_ID", malformed);
    CHECK_THROWS_WITH(portpool::instance_from_environment("JEST_WORKER_ID"), Contains("JEST_WORKER_ID"));
  }
}
