#pragma once

/// @file
/// The umbrella header: everything in portpool's core, without Boost.Asio (and without toml++).
/// <portpool/asio.hpp> adds the parts built on Asio: `acquire_listening()` and ListeningLease,
/// PortShield. Exit codes (<portpool/exit_codes.hpp>) and test-runner instance numbers
/// (<portpool/test_runner.hpp>) have headers of their own.
///
/// portpool runs on Linux 4.11 or later (open-file-description locks, statx, sock_diag, inotify,
/// /proc); on any other system this header stops with an `#error` that says so.

#include <portpool/detail/platform.hpp>

#include <portpool/error.hpp>
#include <portpool/error_code.hpp>
#include <portpool/fencing_token.hpp>
#include <portpool/fetch_blocked_ports.hpp>
#include <portpool/holder.hpp>
#include <portpool/instance_manager.hpp>
#include <portpool/ip_address.hpp>
#include <portpool/lock_dir.hpp>
#include <portpool/lock_policy.hpp>
#include <portpool/options.hpp>
#include <portpool/parse_integer.hpp>
#include <portpool/port_lease.hpp>
#include <portpool/port_pool_manager.hpp>
#include <portpool/printable_text.hpp>
#include <portpool/probe.hpp>
#include <portpool/refusal.hpp>
#include <portpool/registry.hpp>
#include <portpool/registry_watcher.hpp>
#include <portpool/service_description.hpp>
#include <portpool/service_port_table.hpp>
#include <portpool/shield_options.hpp>
#include <portpool/transport.hpp>
#include <portpool/unique_fd.hpp>
#include <portpool/version.hpp>
