// Bad input to the command itself: config files that are not regular files or are too large, and
// too few file descriptors. Each is one clear error with its exit code, and nothing stays held.

#include "cli.hpp"
#include "skip.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using portpool::test::ChildProcess;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::portpool_command;
using portpool::test::portpool_command_sanitized;
using portpool::test::run_portpool;
using portpool::test::RunFixture;
using namespace std::chrono_literals;

namespace {

constexpr const char* child = PORTPOOL_CLI_CHILD;

std::vector<std::string> run_with_config(const RunFixture& fixture, const std::string& config) {
  return {"run", "--config", config, "--lock-dir", fixture.dir.lock_dir().string(), "web", "--", child, "env"};
}

}  // namespace

TEST_CASE("a config file that is a FIFO, a device, a directory or a file over 1 MiB is refused at once with 78") {
  RunFixture fixture;
  auto fifo = fixture.dir.path() / "fifo.toml";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto huge = fixture.dir.path() / "huge.toml";
  {
    std::ofstream file(huge);
    std::string comment(1023, '#');
    for (int line = 0; line < 1025; ++line) {
      file << comment << '\n';
    }
  }
  struct Case {
    std::string path;
    std::string reason;
  };
  for (const auto& [path, reason] : std::vector<Case>{{fifo.string(), "is a FIFO (named pipe)"},
                                                      {"/dev/zero", "is a character device"},
                                                      {fixture.dir.path().string(), "is a directory"},
                                                      {huge.string(), "is larger than 1048576 bytes (1 MiB)"}}) {
    auto run = portpool::test::spawn_portpool(run_with_config(fixture, path));
    run.close_stdin();
    // Refused without reading: a FIFO without a writer, or /dev/zero, would keep a reader for ever.
    REQUIRE(portpool::test::wait_until([&] { return run.exited(); }));
    auto result = finish(run);
    CHECK(result.exit_code == 78);
    std::string expected = "the config file ";
    expected.append(path).append(" ").append(reason);
    CHECK_THAT(result.err, Contains(expected));
    CHECK(result.out.empty());
    auto status = run_portpool({"status", "--config", path, "--lock-dir", fixture.dir.lock_dir().string()});
    CHECK(status.exit_code == 78);
  }
  CHECK_FALSE(std::filesystem::exists(fixture.dir.lock_dir()));
}

TEST_CASE("a config file of exactly 1 MiB is still read") {
  RunFixture fixture;
  auto padded = fixture.dir.path() / "padded.toml";
  std::string table = "[services.web]\nports = [" + std::to_string(fixture.ports[0]) + "]\n";
  {
    std::ofstream file(padded);
    file << table << std::string(std::size_t{1024} * 1024 - table.size() - 1, '#') << '\n';
  }
  REQUIRE(std::filesystem::file_size(padded) == std::uintmax_t{1024} * 1024);
  auto result = run_portpool(run_with_config(fixture, padded.string()));
  CHECK(result.exit_code == 0);
  CHECK_THAT(result.out, Contains("PORT=" + std::to_string(fixture.ports[0])));
}

TEST_CASE("with 4 to 16 file descriptors, run either works or exits 71 naming the limit, and holds nothing") {
  RunFixture fixture;
  int answered_by_portpool = 0;  // limits at which portpool's own answer was checked
  for (int limit = 4; limit <= 16; ++limit) {
    // Descriptors this test inherited are closed first, so that the limit is portpool's alone.
    std::vector<std::string> argv{"/bin/sh", "-c",
                                  R"(for fd in 3 4 5 6 7 8 9; do eval "exec $fd>&-"; done; ulimit -n )" +
                                      std::to_string(limit) + R"( && exec "$@")",
                                  "sh", portpool_command()};
    auto arguments = fixture.run_arguments({}, {child, "env"});
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    auto run = ChildProcess::spawn(argv);
    run.close_stdin();
    auto result = finish(run);
    INFO("ulimit -n " << limit << ": " << result.err);
    if (portpool_command_sanitized() && result.err.find("Sanitizer") != std::string::npos) {
      // The sanitizer runtime checks memory through a pipe of its own, which it cannot open here.
      WARN("ulimit -n " << limit
                        << ": the sanitizer runtime itself ran out of descriptors, so portpool's answer at this "
                           "limit is not checked, only that nothing is held");
      CHECK(holders(fixture.dir.lock_dir()).empty());
      continue;
    }
    ++answered_by_portpool;
    CHECK((result.exit_code == 0 || result.exit_code == 71));
    if (result.exit_code == 71) {
      CHECK_THAT(result.err, Contains("ulimit -n"));
    }
    CHECK(holders(fixture.dir.lock_dir()).empty());
  }
  if (answered_by_portpool == 0) {
    PORTPOOL_SKIP(
        "under the sanitizer, its runtime ran out of descriptors at every limit from 4 to 16 before "
        "portpool could answer");
  }
}

TEST_CASE("a lock directory shared by a group is refused with 77, and used with --shared-lock-dir") {
  RunFixture fixture;
  auto shared = fixture.dir.path() / "shared";
  std::filesystem::create_directory(shared);
  std::filesystem::permissions(shared, std::filesystem::perms::owner_all | std::filesystem::perms::group_all);
  std::vector<std::string> arguments{
      "run", "--config", fixture.config.string(), "--lock-dir", shared.string(), "web", "--", child, "env"};
  auto refused = run_portpool(arguments);
  CHECK(refused.exit_code == 77);
  CHECK(refused.out.empty());
  arguments.insert(arguments.begin() + 1, "--shared-lock-dir");
  auto accepted = run_portpool(arguments);
  CHECK(accepted.exit_code == 0);
  CHECK_THAT(accepted.out, Contains("PORT=" + std::to_string(fixture.ports[0])));
}
