// `portpool status`, the lock directory (--lock-dir, PORTPOOL_LOCK_DIR, unsafe directories).

#include "cli.hpp"
#include "terminal_output.hpp"

#include <portpool/detail/lock_range.hpp>
#include <portpool/impl/record.hpp>
#include <portpool/unique_fd.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <signal.h>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using portpool::test::drives_terminal;
using portpool::test::escaped_terminal_attack;
using portpool::test::finish;
using portpool::test::holders;
using portpool::test::ready_port;
using portpool::test::ReservedPorts;
using portpool::test::run_portpool;
using portpool::test::shared_pool_config;
using portpool::test::spawn_portpool;
using portpool::test::TempDir;
using portpool::test::terminal_attack;
using portpool::test::write_config;

TEST_CASE("status of an empty lock directory") {
  TempDir dir;
  auto text = run_portpool({"status", "--lock-dir", dir.lock_dir().string()});
  CHECK(text.exit_code == 0);
  CHECK(text.out == "no port is held (lock directory " + dir.lock_dir().string() + ")\n");
  auto json = run_portpool({"status", "--lock-dir", dir.lock_dir().string(), "--json"});
  CHECK(json.exit_code == 0);
  CHECK(json.json() == nlohmann::json::parse(R"({"format_version": 2, "holders": [], "instances": []})"));
}

TEST_CASE("status shows who holds what: port, service, pid, instance, since") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = shared_pool_config(dir, "web", ports.ports());
  auto before = std::chrono::system_clock::now();
  auto holder = spawn_portpool({"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), "--instance",
                                "3", "web", "--", PORTPOOL_CLI_CHILD, "hold"});
  REQUIRE(ready_port(holder) == ports[0]);

  auto json = run_portpool({"status", "--json", "--lock-dir", dir.lock_dir().string()});
  REQUIRE(json.exit_code == 0);
  auto list = json.json().at("holders");
  REQUIRE(list.size() == 1);
  const auto& entry = list[0];
  CHECK(entry.at("port") == ports[0]);
  CHECK(entry.at("service") == "web");
  CHECK(entry.at("pid") == holder.pid());
  CHECK(entry.at("instance") == 3);
  CHECK_FALSE(entry.at("instance_id").get<std::string>().empty());
  auto since = entry.at("since").get<std::string>();
  CHECK(std::regex_match(since, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  std::tm parsed{};
  REQUIRE(::strptime(since.c_str(), "%Y-%m-%dT%H:%M:%S", &parsed) != nullptr);
  auto recorded = std::chrono::system_clock::from_time_t(::timegm(&parsed));
  CHECK(recorded >= std::chrono::time_point_cast<std::chrono::seconds>(before) - std::chrono::seconds(1));
  CHECK(recorded <= std::chrono::system_clock::now());

  auto text = run_portpool({"status", "--lock-dir", dir.lock_dir().string()});
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, StartsWith("PORT"));
  CHECK_THAT(text.out, Contains("SINCE"));
  auto row = text.out.substr(text.out.find('\n') + 1);
  CHECK_THAT(row, StartsWith(std::to_string(ports[0]) + "  web"));
  CHECK_THAT(row, Contains(std::to_string(holder.pid())));

  holder.close_stdin();
  CHECK(finish(holder).exit_code == 0);
  CHECK(holders(dir.lock_dir()).empty());
}

TEST_CASE("status shows each holder's transport: in --json always, as a TRANSPORT column once one is not tcp") {
  TempDir dir;
  auto ports = ReservedPorts::any(3);
  auto config =
      write_config(dir, "[services.web]\nports = [" + std::to_string(ports[0]) + "]\n[services.dns]\nports = [" +
                            std::to_string(ports[1]) + "]\ntransport = \"udp\"\n[services.quic]\nports = [" +
                            std::to_string(ports[2]) + "]\ntransport = \"both\"\n");
  auto lease = [&](const std::string& service) {
    return spawn_portpool({"lease", "--config", config.string(), "--lock-dir", dir.lock_dir().string(), service});
  };
  auto web = lease("web");
  REQUIRE(web.read_line());
  auto tcp_only = run_portpool({"status", "--lock-dir", dir.lock_dir().string()});
  REQUIRE(tcp_only.exit_code == 0);
  CHECK(std::regex_search(tcp_only.out, std::regex("^PORT +SERVICE +PID")));
  CHECK_THAT(tcp_only.out, !Contains("TRANSPORT"));
  REQUIRE(holders(dir.lock_dir()).at(0).at("transport") == "tcp");

  auto dns = lease("dns");
  REQUIRE(dns.read_line());
  auto quic = lease("quic");
  REQUIRE(quic.read_line());
  auto list = holders(dir.lock_dir());
  REQUIRE(list.size() == 3);
  std::map<std::string, std::string> transports;
  for (const auto& holder : list) {
    transports[holder.at("service").get<std::string>()] = holder.at("transport").get<std::string>();
  }
  CHECK(transports == std::map<std::string, std::string>{{"web", "tcp"}, {"dns", "udp"}, {"quic", "both"}});

  auto text = run_portpool({"status", "--lock-dir", dir.lock_dir().string()});
  REQUIRE(text.exit_code == 0);
  CHECK(std::regex_search(text.out, std::regex("^PORT +TRANSPORT +SERVICE +PID")));
  CHECK(std::regex_search(text.out, std::regex("\n" + std::to_string(ports[0]) + " +tcp +web ")));
  CHECK(std::regex_search(text.out, std::regex("\n" + std::to_string(ports[1]) + " +udp +dns ")));
  CHECK(std::regex_search(text.out, std::regex("\n" + std::to_string(ports[2]) + " +both +quic ")));
  for (auto* holder : {&web, &dns, &quic}) {
    holder->close_stdin();
    CHECK(finish(*holder).exit_code == 0);
  }
}

TEST_CASE("status shows the instance numbers that run holds, --instance N and auto, only while held") {
  TempDir dir;
  auto ports = ReservedPorts::any(2);
  auto config = shared_pool_config(dir, "web", ports.ports());
  auto lock_dir = dir.lock_dir().string();
  auto run = [&](const std::string& instance) {
    return spawn_portpool({"run", "--config", config.string(), "--lock-dir", lock_dir, "--instance", instance, "web",
                           "--", PORTPOOL_CLI_CHILD, "hold"});
  };
  auto explicit_two = run("2");
  REQUIRE(ready_port(explicit_two));
  auto automatic = run("auto");
  REQUIRE(ready_port(automatic));
  // Not locked, so nobody's, whatever it says.
  std::ofstream(dir.lock_dir() / "instance-3.lock")
      << portpool::detail::format_record({0, {}, ::getpid(), 3, "forged", std::chrono::system_clock::now()});

  auto json = run_portpool({"status", "--json", "--lock-dir", lock_dir});
  REQUIRE(json.exit_code == 0);
  auto instances = json.json().at("instances");
  REQUIRE(instances.size() == 2);
  CHECK(instances[0].at("instance") == 1);
  CHECK(instances[0].at("pid") == automatic.pid());
  CHECK(instances[1].at("instance") == 2);
  CHECK(instances[1].at("pid") == explicit_two.pid());
  for (const auto& instance : instances) {
    CHECK_FALSE(instance.at("instance_id").get<std::string>().empty());
    CHECK(std::regex_match(instance.at("since").get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  }
  auto holders_of_ports = json.json().at("holders");
  REQUIRE(holders_of_ports.size() == 2);
  CHECK(holders_of_ports[0].at("instance_id") != holders_of_ports[1].at("instance_id"));

  auto text = run_portpool({"status", "--lock-dir", lock_dir});
  REQUIRE(text.exit_code == 0);
  auto section = text.out.find("\nINSTANCE  PID");
  REQUIRE(section != std::string::npos);
  auto rows = text.out.substr(text.out.find('\n', section + 1) + 1);
  CHECK_THAT(rows, StartsWith("1         " + std::to_string(automatic.pid())));
  CHECK_THAT(rows, Contains("\n2         " + std::to_string(explicit_two.pid())));
  CHECK_THAT(rows, !Contains("forged"));

  explicit_two.close_stdin();
  CHECK(finish(explicit_two).exit_code == 0);
  instances = run_portpool({"status", "--json", "--lock-dir", lock_dir}).json().at("instances");
  REQUIRE(instances.size() == 1);
  CHECK(instances[0].at("instance") == 1);
  automatic.close_stdin();
  CHECK(finish(automatic).exit_code == 0);
  CHECK(run_portpool({"status", "--json", "--lock-dir", lock_dir}).json().at("instances").empty());
  text = run_portpool({"status", "--lock-dir", lock_dir});
  CHECK(text.out == "no port is held (lock directory " + lock_dir + ")\n");
}

TEST_CASE("control characters in records and in the lock directory's name are never printed raw") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = shared_pool_config(dir, "web", ports.ports());
  auto lock_dir = dir.path() / ("locks" + std::string(terminal_attack));
  auto holder = spawn_portpool(
      {"run", "--config", config.string(), "--lock-dir", lock_dir.string(), "web", "--", PORTPOOL_CLI_CHILD, "hold"});
  auto port = ready_port(holder);
  REQUIRE(port);
  // A record written by hand into the held lock file, every text field hostile, with a valid checksum.
  portpool::Holder hostile;
  hostile.port = *port;
  hostile.service = "web" + std::string(terminal_attack);
  hostile.pid = holder.pid();
  hostile.instance = 1;
  hostile.instance_id = std::string(terminal_attack);
  hostile.since = std::chrono::system_clock::now();
  hostile.description.protocol = std::string(terminal_attack);
  hostile.description.metadata["note"] = std::string(terminal_attack);
  {
    std::fstream lock_file(lock_dir / ("port-" + std::to_string(*port) + ".lock"),
                           std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(lock_file);
    lock_file << portpool::detail::format_record(hostile);
  }

  auto text = run_portpool({"status", "--lock-dir", lock_dir.string()});
  CHECK(text.exit_code == 0);
  CHECK_FALSE(drives_terminal(text.out));
  CHECK_FALSE(drives_terminal(text.err));
  CHECK_THAT(text.out, Contains("locks" + std::string(escaped_terminal_attack)));
  auto json = run_portpool({"status", "--json", "--lock-dir", lock_dir.string()});
  CHECK(json.exit_code == 0);
  CHECK_FALSE(drives_terminal(json.out));
  CHECK_FALSE(drives_terminal(json.err));

  auto watcher = spawn_portpool({"status", "--watch", "--lock-dir", lock_dir.string()});
  auto started = watcher.read_line();
  REQUIRE(started);
  CHECK_FALSE(drives_terminal(*started));
  CHECK_THAT(*started, Contains("watching " + (dir.path() / "locks").string() + std::string(escaped_terminal_attack)));
  watcher.signal(SIGTERM);
  watcher.wait();
  holder.close_stdin();
  CHECK(finish(holder).exit_code == 0);
}

TEST_CASE("in a shared lock directory, a record nobody vouches for is marked unverified, in the table and --json") {
  TempDir dir;
  std::filesystem::create_directory(dir.lock_dir());
  std::filesystem::permissions(dir.lock_dir(), std::filesystem::perms::all | std::filesystem::perms::sticky_bit);
  auto ports = ReservedPorts::any(2);
  auto config = shared_pool_config(dir, "web", {ports[0]});
  auto holder = spawn_portpool({"run", "--config", config.string(), "--lock-dir", dir.lock_dir().string(),
                                "--shared-lock-dir", "web", "--", PORTPOOL_CLI_CHILD, "hold"});
  REQUIRE(ready_port(holder) == ports[0]);
  // A hold whose lock names a user (4242) who wrote no record file of its own: only the lock file's
  // record, which any member could have written, says who holds it.
  portpool::UniqueFd other(::open(dir.lock_file(ports[1]).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666));
  auto lock = portpool::detail::holder_lock(4242);
  REQUIRE(::fcntl(other.get(), F_OFD_SETLK, &lock) == 0);
  REQUIRE(portpool::detail::write_record(
              other.get(), {ports[1], "claimed", ::getpid(), 1, "claimed-1", std::chrono::system_clock::now()}) == 0);

  auto arguments = std::vector<std::string>{"status", "--lock-dir", dir.lock_dir().string(), "--shared-lock-dir"};
  auto text = run_portpool(arguments);
  REQUIRE(text.exit_code == 0);
  CHECK_THAT(text.out, Contains("web  "));
  CHECK_THAT(text.out, !Contains("web (unverified)"));
  CHECK_THAT(text.out, Contains("claimed (unverified)"));
  arguments.emplace_back("--json");
  auto json = run_portpool(arguments).json();
  std::map<std::string, bool> verified;  // by service: the list is sorted by port
  for (const auto& entry : json.at("holders")) {
    verified[entry.at("service").get<std::string>()] = entry.at("verified").get<bool>();
  }
  CHECK(verified == std::map<std::string, bool>{{"claimed", false}, {"web", true}});

  holder.close_stdin();
  CHECK(finish(holder).exit_code == 0);
}

TEST_CASE("PORTPOOL_LOCK_DIR is honoured when --lock-dir is not given") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = shared_pool_config(dir, "web", ports.ports());
  auto environment = std::vector<std::string>{"PORTPOOL_LOCK_DIR=" + dir.lock_dir().string()};
  auto holder =
      spawn_portpool({"run", "--config", config.string(), "web", "--", PORTPOOL_CLI_CHILD, "hold"}, environment);
  REQUIRE(ready_port(holder) == ports[0]);
  CHECK(std::filesystem::exists(dir.lock_dir() / ("port-" + std::to_string(ports[0]) + ".lock")));
  auto status = run_portpool({"status", "--json"}, environment);
  REQUIRE(status.exit_code == 0);
  CHECK(status.json().at("holders").size() == 1);
  holder.close_stdin();
  CHECK(finish(holder).exit_code == 0);
}

TEST_CASE("an unsafe lock directory exits 77 and takes nothing") {
  TempDir dir;
  auto ports = ReservedPorts::any(1);
  auto config = shared_pool_config(dir, "web", ports.ports());
  auto open_to_all = dir.path() / "open";
  std::filesystem::create_directory(open_to_all);
  ::chmod(open_to_all.c_str(), 0777);
  auto link = dir.path() / "link";
  std::filesystem::create_directory_symlink(dir.lock_dir().parent_path(), link);

  for (const auto& lock_dir : {open_to_all, link}) {
    auto status = run_portpool({"status", "--lock-dir", lock_dir.string()});
    CHECK(status.exit_code == 77);
    CHECK_THAT(status.err, StartsWith("portpool: the lock directory " + lock_dir.string()));
    CHECK(status.error_lines() <= 3);
    auto run = run_portpool(
        {"run", "--config", config.string(), "--lock-dir", lock_dir.string(), "web", "--", PORTPOOL_CLI_CHILD, "env"});
    CHECK(run.exit_code == 77);
    CHECK(run.out.empty());
  }
  CHECK(std::filesystem::is_empty(open_to_all));
}

TEST_CASE("an empty --lock-dir is a usage error, not the default directory") {
  auto result = run_portpool({"status", "--lock-dir", ""});
  CHECK(result.exit_code == 64);
  CHECK_THAT(result.err, Contains("--lock-dir") && Contains("empty"));
  CHECK(result.out.empty());
}
