#pragma once

// The fleet component: `portpool-fleet`, the same command with etcd's client (gRPC) linked in,
// installed beside libportpool-adopt.so (companion_files.hpp). `portpool` itself does not link it,
// so that every command that does not talk to etcd starts without loading gRPC's libraries (a
// few tens of milliseconds each time); a command that does is run again, whole, by the fleet
// component, in the same process (exec).

namespace portpool::cli {

/// Keeps what the fleet component is started with: the command line, and the signal mask portpool
/// started with (`run` blocks signals into a descriptor of its own before it may need the
/// component). main() calls it first.
void remember_start(char** argv);

/// The command line remember_start() kept (null before).
char** remembered_command_line();

/// Sets the signal mask remember_start() kept; a signal that came meanwhile is then delivered.
void restore_start_signal_mask();

/// Replaces this process with the fleet component, given the remembered command line. Called
/// before the command has done anything, so the component starts it anew.
/// @throws CommandError (69) when the fleet component is not installed beside this portpool (saying
/// where it was looked for) or cannot be run, or this portpool was built without it.
[[noreturn]] void run_in_fleet_component();

}  // namespace portpool::cli
