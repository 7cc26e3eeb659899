// `portpool run --template SRC:DST`: a config file rendered with the port before each start of CMD,
// for servers that read their port only from a file.

#include "cli.hpp"
#include "http_client.hpp"
#include "skip.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

using Catch::Matchers::Contains;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::wait_until;
using Fixture = portpool::test::RunFixture;

namespace {

std::filesystem::path write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("run --template writes DST from SRC with the port, instance and service before CMD starts") {
  Fixture fixture;
  auto source = write_file(fixture.dir.path() / "server.conf.in",
                           "server { listen 127.0.0.1:{port}; } # {service} {instance} {unknown} {port\n");
  ::chmod(source.c_str(), 0640);
  auto destination = fixture.dir.path() / "server.conf";
  auto result =
      fixture.run({"--template", source.string() + ":" + destination.string()}, {"cat", destination.string()});
  REQUIRE(result.exit_code == 0);
  auto port = std::to_string(fixture.ports[0]);
  CHECK(result.out == "server { listen 127.0.0.1:" + port + "; } # web 1 {unknown} {port\n");
  struct stat written {};
  REQUIRE(::stat(destination.c_str(), &written) == 0);
  CHECK((written.st_mode & 07777) == 0640);
  CHECK(std::distance(std::filesystem::directory_iterator(fixture.dir.path()), {}) == 4);  // no temporary left
}

TEST_CASE("run --template renders again before each restart") {
  Fixture fixture;
  auto source = write_file(fixture.dir.path() / "a.in", "port={port}\n");
  auto destination = fixture.dir.path() / "a.conf";
  auto result = fixture.run({"--template", source.string() + ":" + destination.string(), "--restart", "on-failure",
                             "--max-restarts", "1", "--restart-delay", "0s"},
                            {"sh", "-c", R"(cat "$0" && rm "$0" && exit 3)", destination.string()});
  CHECK(result.exit_code == 3);
  auto line = "port=" + std::to_string(fixture.ports[0]) + "\n";
  CHECK(result.out == line + line);
}

TEST_CASE("run --template with a wrong SRC:DST is a usage error, before any port is taken") {
  Fixture fixture;
  auto source = write_file(fixture.dir.path() / "b.in", "{port}\n");
  for (const auto& [option, message] :
       {std::pair<std::string, std::string>{"no-colon", "is not SRC:DST"},
        {(fixture.dir.path() / "missing.in").string() + ":out.conf", "cannot read the template"},
        {source.string() + ":" + (fixture.dir.path() / "no-such-dir" / "b.conf").string(), "does not exist"},
        {source.string() + ":" + source.string(), "is the template itself"}}) {
    INFO(option);
    auto result = fixture.run({"--template", option}, {"true"});
    CHECK(result.exit_code == 64);
    CHECK_THAT(result.err, Contains(message));
  }
  CHECK(holders(fixture.dir.lock_dir()).empty());
}

TEST_CASE("nginx, which reads its port only from its config file, serves on the port rendered by --template") {
  const std::filesystem::path nginx = "/usr/sbin/nginx";
  if (!std::filesystem::exists(nginx)) {
    PORTPOOL_SKIP("nginx is not installed (Debian: apt-get install nginx-light)");
  }
  Fixture fixture;
  const auto directory = fixture.dir.path();
  auto source = write_file(directory / "nginx.conf.in",
                           "daemon off;\npid " + (directory / "nginx.pid").string() +
                               ";\nevents {}\nhttp {\n  access_log off;\n  server {\n    listen 127.0.0.1:{port};\n"
                               "    location / { return 200 \"{service} {instance} on {port}\\n\"; }\n  }\n}\n");
  auto config = directory / "nginx.conf";
  auto server = fixture.spawn({"--template", source.string() + ":" + config.string()},
                              {nginx.string(), "-e", "stderr", "-p", directory.string(), "-c", config.string()});
  const auto port = fixture.ports[0];
  std::string answer;
  REQUIRE(wait_until([&] {
    try {
      answer = portpool::test::http_get(port, "/").body;
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }));
  CHECK(answer == "web 1 on " + std::to_string(port) + "\n");
  server.signal(SIGTERM);
  CHECK(finish(server).exit_code == 0);
  CHECK(holders(fixture.dir.lock_dir()).empty());
  CHECK_FALSE(portpool::test::accepts_connections(port));
}
