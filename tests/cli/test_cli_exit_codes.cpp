// The exit codes of the command against the library's exit_code_for(): for each failure the
// command reports from a library exception, the same situation met through the library throws an
// exception whose exit_code_for() is the command's exit code.

#include "cli.hpp"

#include <portpool/config_file.hpp>
#include <portpool/exit_codes.hpp>
#include <portpool/port_pool_manager.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::listen_on;
using portpool::test::ReservedPorts;
using portpool::test::run_portpool;
using portpool::test::shared_pool_config;
using portpool::test::TempDir;
using portpool::test::write_config;

namespace {

/// The exit code exit_code_for() gives for what `action` throws (-1 when it throws nothing).
template <class Action>
int library_exit_code(Action action) {
  try {
    action();
  } catch (const std::exception& error) {
    return portpool::exit_code_for(error);
  }
  return -1;
}

struct Situation {
  TempDir dir;
  ReservedPorts ports = ReservedPorts::any(1);
  std::filesystem::path config = shared_pool_config(dir, "web", ports.ports());

  int command(const std::filesystem::path& config_file, const std::filesystem::path& lock_dir,
              const std::string& service = "web") const {
    return run_portpool({"lease", "--config", config_file.string(), "--lock-dir", lock_dir.string(), service})
        .exit_code;
  }

  portpool::Options options(const std::filesystem::path& lock_dir) const {
    portpool::Options options;
    options.lock_dir = lock_dir;
    return options;
  }
};

}  // namespace

TEST_CASE("an exhausted pool: the command and exit_code_for(PoolExhausted) give 75") {
  Situation situation;
  auto foreign = listen_on(situation.ports[0]);
  CHECK(situation.command(situation.config, situation.dir.lock_dir()) == portpool::exit_code::pool_exhausted);
  CHECK(library_exit_code([&] {
          auto table = portpool::load_table_file(situation.config);
          portpool::PortPoolManager(table, "web", situation.options(situation.dir.lock_dir())).acquire();
        }) == portpool::exit_code::pool_exhausted);
  std::error_code error;
  auto table = portpool::load_table_file(situation.config);
  portpool::PortPoolManager(table, "web", situation.options(situation.dir.lock_dir())).acquire(error);
  CHECK(portpool::exit_code_for(error) == portpool::exit_code::pool_exhausted);
}

TEST_CASE("an unsafe lock directory: the command and exit_code_for(LockDirError) give 77") {
  Situation situation;
  auto link = situation.dir.path() / "link";
  std::filesystem::create_directory_symlink(situation.dir.path(), link);
  CHECK(situation.command(situation.config, link) == portpool::exit_code::unsafe_lock_dir);
  CHECK(library_exit_code([&] {
          portpool::PortPoolManager("web", situation.ports.ports(), situation.options(link));
        }) == portpool::exit_code::unsafe_lock_dir);
}

TEST_CASE("an invalid config file: the command and exit_code_for(ConfigError) give 78") {
  Situation situation;
  auto bad = write_config(situation.dir, "[services.web]\nsise = 3\n", "bad.toml");
  CHECK(situation.command(bad, situation.dir.lock_dir()) == portpool::exit_code::bad_config);
  CHECK(library_exit_code([&] { portpool::load_table_file(bad); }) == portpool::exit_code::bad_config);
}

TEST_CASE("an unknown service: the command and exit_code_for(ArgumentError) give 64") {
  Situation situation;
  auto result = run_portpool(
      {"lease", "--config", situation.config.string(), "--lock-dir", situation.dir.lock_dir().string(), "nope"});
  CHECK(result.exit_code == portpool::exit_code::usage);
  CHECK_THAT(result.err, Contains("unknown service 'nope'"));
  CHECK(library_exit_code([&] {
          auto table = portpool::load_table_file(situation.config);
          portpool::PortPoolManager(table, "nope", situation.options(situation.dir.lock_dir()));
        }) == portpool::exit_code::usage);
}

TEST_CASE("an instance out of the table's range: the command and exit_code_for(ArgumentError) give 64") {
  Situation situation;
  auto result = run_portpool({"lease", "--config", situation.config.string(), "--lock-dir",
                              situation.dir.lock_dir().string(), "--instance", "999", "web"});
  CHECK(result.exit_code == portpool::exit_code::usage);
  CHECK_THAT(result.err, Contains("instance 999 is out of range"));
  CHECK(library_exit_code([&] {
          auto table = portpool::load_table_file(situation.config);
          auto options = situation.options(situation.dir.lock_dir());
          options.instance = 999;
          portpool::PortPoolManager(table, "web", options);
        }) == portpool::exit_code::usage);
}
