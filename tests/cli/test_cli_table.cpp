// `portpool table`, where the command finds its config file, the config file errors and the usage
// errors, through the built binary.

#include "cli.hpp"
#include "skip.hpp"
#include "terminal_output.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using portpool::test::drives_terminal;
using portpool::test::escaped_terminal_attack;
using portpool::test::run_portpool;
using portpool::test::run_portpool_in;
using portpool::test::TempDir;
using portpool::test::terminal_attack;
using portpool::test::write_config;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) {
    lines.push_back(line);
  }
  return lines;
}

constexpr const char* example_config = PORTPOOL_EXAMPLES_DIR "/qwen-valencia.toml";

// The harness keeps the developer's PORTPOOL_CONFIG and ~/.config away from the command, but not
// the machine's /etc/portpool/config.toml, which would take the built-in table's place.
void require_no_system_config() {
  std::error_code error;
  if (std::filesystem::exists("/etc/portpool/config.toml", error)) {
    PORTPOOL_SKIP(
        "/etc/portpool/config.toml exists on this machine, so portpool uses it instead of the built-in "
        "example table");
  }
}

/// A config of one shared pool named `service` (ports 1000 and up, no port is taken).
std::filesystem::path config_naming(const std::filesystem::path& path, const std::string& service) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << "[services." << service << "]\nports = [1000]\n";
  return path;
}

/// The one service of the table `portpool table --json` shows, or the error.
std::string service_shown(const portpool::test::CliResult& result) {
  if (result.exit_code != 0) {
    return "exit " + std::to_string(result.exit_code) + ": " + result.err;
  }
  return result.json().at("services").at(0).at("name").get<std::string>();
}

}  // namespace

TEST_CASE("table prints the built-in table for instance 1 as aligned columns, after the table it used") {
  require_no_system_config();
  auto result = run_portpool({"table"});
  REQUIRE(result.exit_code == 0);
  auto lines = lines_of(result.out);
  REQUIRE(lines.size() == 8);
  CHECK_THAT(lines[0], StartsWith("port table: the built-in example table"));
  auto ports_column = lines[1].find("PORTS");
  auto pool_column = lines[1].find("POOL");
  REQUIRE(ports_column != std::string::npos);
  CHECK_THAT(lines[2], StartsWith("mcp-universal"));
  CHECK(lines[2].find("6000-6002") == ports_column);
  CHECK(lines[2].find("instance 1") == pool_column);
  CHECK(lines[2].find("6000 (skipped)") == lines[1].find("FETCH-BLOCKED"));
  CHECK(lines[7].find('-', lines[1].find("FETCH-BLOCKED")) == lines[1].find("FETCH-BLOCKED"));
  CHECK_THAT(lines[7], StartsWith("api-server"));
  CHECK(lines[7].find("9000-9002") == ports_column);
  CHECK(lines[7].find("shared") == pool_column);

  auto from_file = run_portpool({"table", "--config", example_config});
  REQUIRE(from_file.exit_code == 0);
  CHECK(lines_of(from_file.out)[0] == std::string("port table: ") + example_config);
}

TEST_CASE("the built-in table is examples/qwen-valencia.toml, for every instance") {
  require_no_system_config();
  for (const std::string instance : {"1", "2", "5", "10"}) {
    auto built_in = run_portpool({"table", "--json", "--instance", instance});
    auto from_file = run_portpool({"table", "--json", "--instance", instance, "--config", example_config});
    REQUIRE(built_in.exit_code == 0);
    REQUIRE(from_file.exit_code == 0);
    auto built_in_json = built_in.json();
    auto from_file_json = from_file.json();
    CHECK(built_in_json.at("source").is_null());
    CHECK(from_file_json.at("source") == example_config);
    CHECK(built_in_json.at("services") == from_file_json.at("services"));
  }
}

TEST_CASE("the config file is --config, else $PORTPOOL_CONFIG, ./portpool.toml, then the user's") {
  TempDir dir;
  auto work = dir.path() / "work";
  auto option = config_naming(dir.path() / "option.toml", "from-option");
  auto variable = config_naming(dir.path() / "variable.toml", "from-variable");
  auto local = config_naming(work / "portpool.toml", "from-working-directory");
  auto xdg_home = dir.path() / "xdg";
  auto xdg = config_naming(xdg_home / "portpool" / "config.toml", "from-xdg-config-home");
  auto home = dir.path() / "home";
  auto dot_config = config_naming(home / ".config" / "portpool" / "config.toml", "from-dot-config");
  const std::vector<std::string> environment{"PORTPOOL_CONFIG=" + variable.string(),
                                             "XDG_CONFIG_HOME=" + xdg_home.string(), "HOME=" + home.string()};
  auto shown = [&](const std::vector<std::string>& settings, const std::vector<std::string>& options = {}) {
    std::vector<std::string> arguments{"table", "--json"};
    arguments.insert(arguments.end(), options.begin(), options.end());
    return service_shown(run_portpool_in(work, arguments, settings));
  };

  CHECK(shown(environment, {"--config", option.string()}) == "from-option");
  CHECK(shown(environment) == "from-variable");
  CHECK(shown({"XDG_CONFIG_HOME=" + xdg_home.string(), "HOME=" + home.string(), "PORTPOOL_CONFIG="}) ==
        "from-working-directory");
  std::filesystem::remove(local);
  CHECK(shown({"XDG_CONFIG_HOME=" + xdg_home.string(), "HOME=" + home.string()}) == "from-xdg-config-home");
  CHECK(shown({"XDG_CONFIG_HOME=", "HOME=" + home.string()}) == "from-dot-config");
  CHECK(shown({"-u XDG_CONFIG_HOME", "HOME=" + home.string()}) == "from-dot-config");

  auto used = run_portpool_in(work, {"table", "--json"}, {"XDG_CONFIG_HOME=" + xdg_home.string()});
  REQUIRE(used.exit_code == 0);
  CHECK(used.json().at("source") == xdg.string());
  auto text = run_portpool_in(work, {"table"}, {"XDG_CONFIG_HOME=" + xdg_home.string()});
  CHECK(lines_of(text.out).at(0) == "port table: " + xdg.string());

  std::filesystem::remove(xdg);
  std::filesystem::remove(dot_config);
  require_no_system_config();
  auto built_in =
      run_portpool_in(work, {"table", "--json"}, {"XDG_CONFIG_HOME=" + xdg_home.string(), "HOME=" + home.string()});
  REQUIRE(built_in.exit_code == 0);
  CHECK(built_in.json().at("source").is_null());
  CHECK(built_in.json().at("services").at(0).at("name") == "mcp-universal");
}

TEST_CASE("a config file found but invalid is an error naming it, never a fallback") {
  TempDir dir;
  auto work = dir.path() / "work";
  std::filesystem::create_directories(work);
  auto local = write_config(dir, "[services.web]\nsise = 3\n", "work/portpool.toml");
  auto result = run_portpool_in(work, {"table"});
  CHECK(result.exit_code == 78);
  CHECK_THAT(result.err, StartsWith("portpool: " + local.string() + ":2:1: unknown key 'sise'"));
  CHECK(result.out.empty());
  std::filesystem::remove(local);

  auto xdg_home = dir.path() / "xdg";
  std::filesystem::create_directories(xdg_home / "portpool");
  auto user_file = write_config(dir, "[services.web]\nrange = [9, 1]\n", "xdg/portpool/config.toml");
  auto user = run_portpool_in(work, {"table"}, {"XDG_CONFIG_HOME=" + xdg_home.string()});
  CHECK(user.exit_code == 78);
  CHECK_THAT(user.err, StartsWith("portpool: " + user_file.string() + ":") && Contains("whose end is below its start"));
  auto run =
      run_portpool_in(work, {"run", "--lock-dir", dir.lock_dir().string(), "web", "--", PORTPOOL_CLI_CHILD, "env"},
                      {"XDG_CONFIG_HOME=" + xdg_home.string()});
  CHECK(run.exit_code == 78);
  CHECK_THAT(run.err, Contains(user_file.string()));
  CHECK(run.out.empty());
}

TEST_CASE("an explicitly named config file that does not exist is an error") {
  TempDir dir;
  auto missing = dir.path() / "missing.toml";
  auto variable = run_portpool({"table"}, {"PORTPOOL_CONFIG=" + missing.string()});
  CHECK(variable.exit_code == 78);
  CHECK_THAT(variable.err, Contains("PORTPOOL_CONFIG") && Contains(missing.string()) && Contains("does not exist"));
  CHECK(variable.out.empty());
  auto status =
      run_portpool({"status", "--lock-dir", dir.lock_dir().string()}, {"PORTPOOL_CONFIG=" + missing.string()});
  CHECK(status.exit_code == 78);
  auto option =
      run_portpool({"table", "--config", missing.string()}, {std::string("PORTPOOL_CONFIG=") + example_config});
  CHECK(option.exit_code == 78);
  CHECK_THAT(option.err, Contains(missing.string()) && Contains("No such file"));
}

TEST_CASE("table --json gives the instance's pools, in table order") {
  auto result = run_portpool({"table", "--config", example_config, "--instance", "2", "--json"});
  REQUIRE(result.exit_code == 0);
  auto json = result.json();
  CHECK(json.at("format_version") == 2);
  CHECK(json.at("instance") == 2);
  auto services = json.at("services");
  REQUIRE(services.size() == 6);
  CHECK(services[0].at("name") == "mcp-universal");
  CHECK(services[0].at("ports") == std::vector<int>{6100, 6101, 6102});
  CHECK(services[0].at("shared") == false);
  CHECK(services[3].at("ports") == std::vector<int>{6130, 6131, 6132, 6133});
  CHECK(services[5].at("name") == "api-server");
  CHECK(services[5].at("ports") == std::vector<int>{9000, 9001, 9002});
  CHECK(services[5].at("shared") == true);
  CHECK(services[0].at("fetch_blocked_ports").empty());
  for (const auto& service : services) {
    CHECK(service.at("transport") == "tcp");
  }
}

TEST_CASE("table shows each service's transport: in --json always, as a column once one is not tcp") {
  TempDir dir;
  auto config = write_config(dir,
                             "[services.web]\nports = [1000]\n[services.dns]\nports = [1001]\ntransport = \"udp\"\n"
                             "[services.quic]\nports = [1002]\ntransport = \"both\"\n");
  auto json = run_portpool({"table", "--config", config.string(), "--json"});
  REQUIRE(json.exit_code == 0);
  auto services = json.json().at("services");
  REQUIRE(services.size() == 3);
  CHECK(services[0].at("transport") == "tcp");
  CHECK(services[1].at("transport") == "udp");
  CHECK(services[2].at("transport") == "both");

  auto text = run_portpool({"table", "--config", config.string()});
  REQUIRE(text.exit_code == 0);
  auto lines = lines_of(text.out);
  REQUIRE(lines.size() == 5);
  CHECK_THAT(lines[1], StartsWith("SERVICE  PORTS  TRANSPORT  POOL"));
  CHECK_THAT(lines[2], StartsWith("web      1000   tcp        shared"));
  CHECK_THAT(lines[3], StartsWith("dns      1001   udp        shared"));
  CHECK_THAT(lines[4], StartsWith("quic     1002   both       shared"));

  auto tcp_only = run_portpool({"table", "--config", config_naming(dir.path() / "tcp.toml", "web").string()});
  REQUIRE(tcp_only.exit_code == 0);
  CHECK_THAT(tcp_only.out, !Contains("TRANSPORT"));
}

TEST_CASE("table --json names instance 1's fetch-blocked port 6000, skipped unless the pool allows it") {
  require_no_system_config();
  auto result = run_portpool({"table", "--json"});
  REQUIRE(result.exit_code == 0);
  auto services = result.json().at("services");
  CHECK(services[0].at("fetch_blocked_ports") == std::vector<int>{6000});
  CHECK(services[0].at("allow_fetch_blocked_ports") == false);
}

TEST_CASE("table warns about pools inside the kernel's ephemeral port range") {
  std::ifstream range_file("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned first = 0;
  unsigned last = 0;
  if (!(range_file >> first >> last) || last < first + 2 || first < 2) {
    PORTPOOL_SKIP("no usable ephemeral port range in /proc/sys/net/ipv4/ip_local_port_range to test against");
  }
  std::ifstream reserved_file("/proc/sys/net/ipv4/ip_local_reserved_ports");
  std::string reserved;
  std::getline(reserved_file, reserved);
  if (!reserved.empty()) {
    PORTPOOL_SKIP("this machine reserves ports already (net.ipv4.ip_local_reserved_ports = "
                  << reserved << "), which the warning and its sysctl command take into account");
  }
  TempDir dir;
  auto inside =
      write_config(dir, "[services.inside]\nrange = [" + std::to_string(last - 2) + ", " + std::to_string(last) +
                            "]\n[services.outside]\nports = [" + std::to_string(first - 1) + "]\n");
  auto result = run_portpool({"table", "--config", inside.string()});
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Contains("inside"));
  CHECK_THAT(result.err, Contains("warning: the pool of 'inside' has ports " + std::to_string(last - 2) + "-" +
                                  std::to_string(last) + " inside the kernel's ephemeral port range"));
  CHECK_THAT(result.err, Contains("sysctl -w net.ipv4.ip_local_reserved_ports=" + std::to_string(last - 2) + "-" +
                                  std::to_string(last)));
  CHECK_THAT(result.err, !Contains("'outside'"));
  CHECK(run_portpool({"table", "--config", example_config}).err.empty());
}

TEST_CASE("table --instance outside the table is a usage error") {
  for (const std::string instance : {"0", "11", "-1", "two"}) {
    auto result = run_portpool({"table", "--config", example_config, "--instance", instance});
    CHECK(result.exit_code == 64);
    CHECK_THAT(result.err, Contains("see 'portpool --help'"));
    CHECK(result.out.empty());
  }
  CHECK_THAT(run_portpool({"table", "--config", example_config, "--instance", "11"}).err,
             Contains("instances 1 to 10"));
}

TEST_CASE("command-line mistakes exit 64 with a short message") {
  for (const auto& arguments : std::vector<std::vector<std::string>>{
           {}, {"tabel"}, {"table", "--bogus"}, {"status", "extra"}, {"run"}, {"run", "api-server"}}) {
    auto result = run_portpool(arguments);
    INFO("arguments: " << arguments.size());
    CHECK(result.exit_code == 64);
    CHECK_THAT(result.err, StartsWith("portpool: "));
    CHECK_THAT(result.err, Contains("see 'portpool --help'"));
    CHECK(result.error_lines() <= 3);
  }
  CHECK_THAT(run_portpool({"tabel"}).err, Contains("unknown command 'tabel'"));
}

TEST_CASE("control characters from the config file and the command line are printed escaped") {
  TempDir dir;
  // TOML strings are UTF-8: the config carries the attack without its bare 0x9b byte.
  const std::string toml_attack = R"(\u001b]0;PWNED\u0007\u001b[2J\u009b31m)";
  const std::string escaped_toml_attack = R"(\x1b]0;PWNED\x07\x1b[2J\u009b31m)";
  auto check_printable = [](const portpool::test::CliResult& result) {
    CHECK_FALSE(drives_terminal(result.out));
    CHECK_FALSE(drives_terminal(result.err));
  };

  auto description = write_config(dir, "[services.web]\nports = [1]\nprotocol = \"" + toml_attack + "\"\n");
  auto invalid_protocol = run_portpool({"table", "--config", description.string()});
  CHECK(invalid_protocol.exit_code == 78);
  check_printable(invalid_protocol);
  CHECK_THAT(invalid_protocol.err, Contains("the protocol '" + escaped_toml_attack + "' is invalid"));

  auto key = write_config(dir, "[services.web]\nports = [1]\n\"" + toml_attack + "\" = 1\n", "key.toml");
  auto unknown_key = run_portpool({"table", "--config", key.string()});
  CHECK(unknown_key.exit_code == 78);
  check_printable(unknown_key);
  CHECK_THAT(unknown_key.err, Contains("unknown key '" + escaped_toml_attack + "'"));

  auto named = write_config(dir, "[services.web]\nports = [1]\n", "ports" + std::string(terminal_attack) + ".toml");
  auto table = run_portpool({"table", "--config", named.string()});
  CHECK(table.exit_code == 0);
  check_printable(table);
  CHECK_THAT(table.out, Contains("ports" + std::string(escaped_terminal_attack) + ".toml"));

  auto unknown_service = run_portpool({"run", "--config", named.string(), "--lock-dir", dir.lock_dir().string(),
                                       "web" + std::string(terminal_attack), "--", PORTPOOL_CLI_CHILD, "env"});
  CHECK(unknown_service.exit_code != 0);
  check_printable(unknown_service);
  CHECK_THAT(unknown_service.err, Contains("web" + std::string(escaped_terminal_attack)));

  auto not_a_number = run_portpool({"table", "--instance", std::string(terminal_attack)});
  CHECK(not_a_number.exit_code == 64);
  check_printable(not_a_number);
  CHECK_THAT(not_a_number.err, Contains(std::string(escaped_terminal_attack)));

  auto unknown_command = run_portpool({std::string(terminal_attack)});
  CHECK(unknown_command.exit_code == 64);
  check_printable(unknown_command);
  CHECK_THAT(unknown_command.err, Contains("unknown command '" + std::string(escaped_terminal_attack) + "'"));
}

TEST_CASE("--help and --version exit 0 on stdout") {
  auto help = run_portpool({"--help"});
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Contains("table") && Contains("status") && Contains("run"));
  auto run_help = run_portpool({"run", "--help"});
  CHECK(run_help.exit_code == 0);
  CHECK_THAT(run_help.out, Contains("--socket") && Contains("--on-lost") && Contains("--instance"));
  auto version = run_portpool({"--version"});
  CHECK(version.exit_code == 0);
  CHECK_THAT(version.out, StartsWith("portpool "));
}

TEST_CASE("a malformed config file exits 78 naming file, line and column") {
  TempDir dir;
  auto typo = write_config(dir, "[services.web]\noffset = 0\nsise = 3\n");
  auto result = run_portpool({"table", "--config", typo.string()});
  CHECK(result.exit_code == 78);
  CHECK(result.err == "portpool: " + typo.string() +
                          ":3:1: unknown key 'sise' in [services.web]: expected offset and size (a pool per "
                          "instance), or ports or range (a pool shared by all instances)\n");
  CHECK(result.out.empty());

  auto broken = write_config(dir, "[services.web\n", "broken.toml");
  auto parse_error = run_portpool({"table", "--config", broken.string()});
  CHECK(parse_error.exit_code == 78);
  CHECK_THAT(parse_error.err, StartsWith("portpool: " + broken.string() + ":1:") && Contains("invalid TOML"));
  CHECK(parse_error.error_lines() == 1);

  auto wrong_type = write_config(dir, "[services.web]\nports = [\"8080\"]\n", "type.toml");
  CHECK_THAT(run_portpool({"table", "--config", wrong_type.string()}).err,
             Contains(":2:10: a port in [services.web] ports must be an integer from 1 to 65535, not string"));
}

TEST_CASE("an invalid table exits 78 naming the services involved") {
  TempDir dir;
  auto overlap = write_config(dir, "[services.web]\nrange = [6001, 6002]\n[services.api]\noffset = 0\nsize = 2\n");
  for (const std::string command : {"table", "status"}) {
    auto result = run_portpool({command, "--config", overlap.string(), "--lock-dir", dir.lock_dir().string()});
    CHECK(result.exit_code == 78);
    CHECK_THAT(result.err, StartsWith("portpool: " + overlap.string() + ": pools overlap at port 6001"));
    CHECK_THAT(result.err, Contains("'web'") && Contains("'api'"));
  }
  auto result = run_portpool({"run", "--config", overlap.string(), "--lock-dir", dir.lock_dir().string(), "web", "--",
                              PORTPOOL_CLI_CHILD, "env"});
  CHECK(result.exit_code == 78);
  CHECK(result.out.empty());
}

TEST_CASE("a config file that cannot be read exits 78") {
  TempDir dir;
  auto missing = dir.path() / "missing.toml";
  auto result = run_portpool({"table", "--config", missing.string()});
  CHECK(result.exit_code == 78);
  CHECK_THAT(result.err, Contains(missing.string()) && Contains("No such file"));
  CHECK(result.error_lines() == 1);
}
