#include "watch_command.hpp"

#include "columns.hpp"
#include "description_options.hpp"
#include "machine_output.hpp"

#include <portpool/holder_json.hpp>
#include <portpool/registry_watcher.hpp>

#include <poll.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <string>
#include <system_error>

namespace portpool::cli {
namespace {

// The time of day, to the millisecond: changes come close together.
std::string clock_text(std::chrono::system_clock::time_point time) {
  auto text = iso8601_utc(time);  // 2026-05-01T12:00:00.250Z
  return text.substr(11, 12);
}

std::string holder_text(const Holder& holder) {
  auto summary = description_summary(holder.description);
  return fmt::format("{} {} pid {} instance {}{}", port_text(holder.port, holder.transport), service_text(holder),
                     application_pid_of(holder), holder.instance, summary == "-" ? std::string() : "  " + summary);
}

// A holder's record or the lock directory's path may carry control characters: printed escaped.
void print_line(const std::string& line) {
  std::fputs((printable_lines(line) + '\n').c_str(), stdout);
  std::fflush(stdout);  // a reader of a pipe sees each change at once
}

void print_start(const RegistryWatcher& watcher, bool json) {
  if (json) {
    return print_line(versioned(snapshot_json(watcher.holders())).dump());
  }
  auto now = clock_text(std::chrono::system_clock::now());
  print_line(fmt::format("{} watching {} ({} held)", now, watcher.lock_dir().string(), watcher.holders().size()));
  for (const auto& holder : watcher.holders()) {
    print_line(fmt::format("{} held      {}", now, holder_text(holder)));
  }
}

void print_change(const RegistryChange& change, bool json) {
  if (json) {
    return print_line(versioned(change_json(change)).dump());
  }
  auto line = fmt::format("{} {:<9} {}", clock_text(std::chrono::system_clock::now()), to_string(change.kind),
                          holder_text(change.holder));
  if (change.kind == RegistryChange::Kind::changed) {
    line += fmt::format(" ({})", to_string(change.holder.readiness));
  }
  if (!change.reason.empty()) {
    line += ": " + change.reason;
  }
  print_line(line);
}

}  // namespace

void watch_registry(const Options& options, bool json) {
  RegistryWatcher watcher(options);
  print_start(watcher, json);
  while (true) {
    pollfd ready{watcher.descriptor(), POLLIN, 0};
    if (::poll(&ready, 1, -1) < 0 && errno != EINTR) {
      throw Error(fmt::format("cannot wait for changes of {}: {}", watcher.lock_dir().string(),
                              std::system_category().message(errno)));
    }
    for (const auto& change : watcher.read_changes()) {
      print_change(change, json);
    }
  }
}

}  // namespace portpool::cli
