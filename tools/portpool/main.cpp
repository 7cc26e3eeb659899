// portpool: exclusive pools of TCP ports for local services, from the command line.
// See docs/cli.md.

#include "columns.hpp"
#include "exit_codes.hpp"
#include "fleet_component.hpp"
#include "fleet_options.hpp"
#include "keeper.hpp"
#include "lease_command.hpp"
#include "reserve_command.hpp"
#include "resource_limits.hpp"
#include "run_command.hpp"
#include "status_command.hpp"
#include "table_command.hpp"

#include <portpool/error.hpp>
#include <portpool/version.hpp>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>
#include <new>
#include <optional>
#include <string>
#include <system_error>

namespace {

using namespace portpool::cli;
namespace exit_code = portpool::exit_code;

constexpr const char* help_hint = "see 'portpool --help'";

// The message may quote a command-line argument, a config file's string or a record: printed
// escaped, it cannot drive the terminal.
int report(const std::string& message, int code) {
  std::cerr << "portpool: " << printable_lines(message) << '\n';
  return code;
}

std::string system_error_text(const std::system_error& error) {
  if (error.code().category() == std::system_category() && is_resource_error(error.code().value())) {
    auto what = std::string(error.what());
    return fmt::format("{}: {}", what.substr(0, what.find(':')), resource_error_text(error.code().value()));
  }
  return error.what();
}

int usage_error(const std::string& message) {
  return report(fmt::format("{}\n{}", message, help_hint), exit_code::usage);
}

struct Commands {
  TableArguments table;
  StatusArguments status;
  RunArguments run;
  LeaseArguments lease;
  ReserveArguments reserve;
  PublishArguments publish;
  FleetInitArguments fleet_init;
  CLI::App* table_command = nullptr;
  CLI::App* status_command = nullptr;
  CLI::App* run_command = nullptr;
  CLI::App* lease_command = nullptr;
  CLI::App* reserve_command = nullptr;
  CLI::App* publish_command = nullptr;
  CLI::App* fleet_init_command = nullptr;
};

void describe(CLI::App& app, Commands& commands) {
  app.set_version_flag("--version", fmt::format("portpool {}.{}.{}", PORTPOOL_VERSION_MAJOR, PORTPOOL_VERSION_MINOR,
                                                PORTPOOL_VERSION_PATCH));
  app.require_subcommand(1);
  commands.table_command = add_table_command(app, commands.table);
  commands.status_command = add_status_command(app, commands.status);
  commands.run_command = add_run_command(app, commands.run);
  commands.lease_command = add_lease_command(app, commands.lease);
  commands.reserve_command = add_reserve_command(app, commands.reserve);
  commands.publish_command = add_publish_command(app, commands.publish);
  commands.fleet_init_command = add_fleet_init_command(app, commands.fleet_init);
  app.footer(
      "Exit codes: 0 success, 64 usage error, 69 etcd unreachable, 71 system failure, 75 pool exhausted, 76 etcd "
      "refused the request, 77 unsafe lock directory (reserve: not permitted), 78 bad config file, 126/127 CMD "
      "cannot be run / not found; 'run' otherwise exits with CMD's status (128+signal if killed). See docs/cli.md.");
}

// CLI11 would only say that a subcommand is required.
std::optional<std::string> unknown_command(const Commands& commands, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    return std::nullopt;
  }
  const std::string name = argv[1];
  for (const auto* command :
       {commands.table_command, commands.status_command, commands.run_command, commands.lease_command,
        commands.reserve_command, commands.publish_command, commands.fleet_init_command}) {
    if (command->get_name() == name) {
      return std::nullopt;
    }
  }
  return name;
}

int dispatch(const Commands& commands) {
  if (commands.table_command->parsed()) {
    return run_table_command(commands.table);
  }
  if (commands.status_command->parsed()) {
    return run_status_command(commands.status);
  }
  if (commands.lease_command->parsed()) {
    return run_lease_command(commands.lease);
  }
  if (commands.reserve_command->parsed()) {
    return run_reserve_command(commands.reserve);
  }
  if (commands.publish_command->parsed()) {
    return run_publish_command(commands.publish);
  }
  if (commands.fleet_init_command->parsed()) {
    return run_fleet_init_command(commands.fleet_init);
  }
  return run_run_command(commands.run);
}

// Every failure becomes one short message on stderr and its exit code; the leases taken so far
// were released by the time the exception arrives here.
int run_mapping_errors(const Commands& commands) {
  try {
    return dispatch(commands);
  } catch (const UsageError& error) {
    return usage_error(error.what());
  } catch (const CommandError& error) {
    return report(error.what(), error.exit_code());
  } catch (const std::bad_alloc&) {
    return report("out of memory", exit_code::system_failure);
  } catch (const std::system_error& error) {
    return report(system_error_text(error), exit_code::system_failure);
  } catch (const portpool::PoolExhausted& error) {
    return report(std::string(error.what()) + "\n'portpool status' shows who holds what.", exit_code::pool_exhausted);
  } catch (const std::exception& error) {
    return report(error.what(), portpool::exit_code_for(error));
  }
}

int run_portpool(int argc, char** argv) {
  CLI::App app("portpool: exclusive pools of TCP ports for local services", "portpool");
  Commands commands;
  describe(app, commands);
  if (auto name = unknown_command(commands, argc, argv)) {
    return usage_error(fmt::format(
        "unknown command '{}': the commands are table, status, run, lease, reserve, publish and fleet-init", *name));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ExtrasError& error) {
    const auto* hint = commands.run_command->parsed()
                           ? " (write '--' before CMD, so that its options are not taken for portpool's)"
                           : "";
    return usage_error(fmt::format("{}{}", error.what(), hint));
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) {
      return app.exit(error);
    }
    return usage_error(error.what());
  }
  return run_mapping_errors(commands);
}

}  // namespace

int main(int argc, char** argv) {
  portpool::cli::remember_start(argv);
  if (argc > 1 && std::string(argv[1]) == portpool::cli::keeper_command) {
    // The keeper ends without exit handlers: once CMD's tree is gone it holds nothing that needs one,
    // and a handler that forks (LeakSanitizer's exit-time check runs in a traced child) would start a
    // process under the keeper just when 'portpool run' may be killing every process under it;
    // killed, that child left the keeper waiting for it forever.
    auto status = portpool::cli::run_keeper(argc, argv);
    std::fflush(nullptr);
    ::_exit(status);
  }
  try {
    return run_portpool(argc, argv);
  } catch (...) {  // setting up the command line or writing a report failed: out of memory
    std::fputs("portpool: internal failure\n", stderr);
    return exit_code::system_failure;
  }
}
