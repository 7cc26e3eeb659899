#!/usr/bin/env python3
"""What `portpool run --adopt` (the preload mechanism) adds to the start-up of `portpool run`.

Runs `portpool run` to its end RUNS times for each variant, the variants interleaved in random
order (so that load on the machine falls on all of them alike), and prints the median and the 90th
percentile of the wall time of each, the median CPU time (user and system, of the process and every
process of its tree: the keeper and CMD), and the medians' differences from plain `run` ("added"):

  plain         portpool run web -- CMD
  socket        portpool run --socket web -- CMD             (the held listening socket alone)
  adopt         portpool run --adopt 8000 web -- CMD          (the socket, and libportpool-adopt.so)

and, to isolate the library's own cost (loaded into the keeper and into CMD), /bin/true started
without portpool, with and without LD_PRELOAD=libportpool-adopt.so:

  exec          /bin/true
  exec preload  LD_PRELOAD=LIBRARY /bin/true

CMD is /bin/true (start-up alone) and, with --bind, also a Python program that binds and listens
on the pool port: plain passes it `{port}`, adopt passes 8000 (adopted); no socket variant (the
held socket leaves the port to no other bind).

    bench/adopt_startup.py PORTPOOL [--runs 200] [--bind]

Each run uses a private lock directory and a pool of ports the kernel just gave out.
"""

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BIND_PROGRAM = (
    "import socket, sys\n"
    "server = socket.socket()\n"
    "server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "server.bind(('127.0.0.1', int(sys.argv[1])))\n"
    "server.listen(4)\n"
)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for held in sockets:
        held.bind(("127.0.0.1", 0))
    ports = [held.getsockname()[1] for held in sockets]
    for held in sockets:
        held.close()
    return ports


def variants(python, bind, library):
    result = [("exec", None, ["/bin/true"]), ("exec preload", library, ["/bin/true"])]
    commands = [("true", ["/bin/true"], ["/bin/true"])]
    if bind:
        commands.append(("python bind", [python, "-c", BIND_PROGRAM, "{port}"], [python, "-c", BIND_PROGRAM, "8000"]))
    for name, plain_command, adopted_command in commands:
        result.append((f"plain, {name}", [], plain_command))
        if name == "true":  # a program that binds the pool port itself cannot run beside the held socket
            result.append((f"socket, {name}", ["--socket"], plain_command))
        result.append((f"adopt, {name}", ["--adopt", "8000"], adopted_command))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("portpool")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--bind", action="store_true", help="also a Python program that binds the port")
    arguments = parser.parse_args()
    python = shutil.which("python3") or sys.executable

    directory = tempfile.mkdtemp(prefix="portpool-adopt-bench-")
    config = os.path.join(directory, "ports.toml")
    with open(config, "w") as file:
        file.write("[services.web]\nports = [%s]\n" % ", ".join(map(str, free_ports(3))))
    lock_dir = os.path.join(directory, "locks")
    environment = dict(os.environ, PORTPOOL_CONFIG=config, PORTPOOL_LOCK_DIR=lock_dir)

    library = os.path.join(os.path.dirname(os.path.abspath(arguments.portpool)), "libportpool-adopt.so")
    if not os.path.exists(library):
        library = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(arguments.portpool)), "..", "lib",
                                                "portpool", "libportpool-adopt.so"))
    chosen = variants(python, arguments.bind, library)
    schedule = [index for index in range(len(chosen)) for _ in range(arguments.runs)]
    random.shuffle(schedule)
    times = {name: [] for name, _, _ in chosen}
    processor_times = {name: [] for name, _, _ in chosen}
    for index in schedule:
        name, options, command = chosen[index]
        run_environment = environment
        if name.startswith("exec"):
            argv = command
            if options is not None:
                run_environment = dict(environment, LD_PRELOAD=options)
        else:
            argv = [arguments.portpool, "run", "--quiet", *options, "web", "--", *command]
        start = time.perf_counter()
        process = subprocess.Popen(argv, env=run_environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited {process.returncode}: {errors.decode()}")
        times[name].append(elapsed * 1000)
        processor_times[name].append((usage.ru_utime + usage.ru_stime) * 1000)
    shutil.rmtree(directory)

    print(f"{'variant':<22} {'median ms':>10} {'p90 ms':>8} {'added':>9} {'CPU ms':>8} {'added':>9}")
    for name, _, _ in chosen:
        baseline = "exec" if name.startswith("exec") else "plain, " + name.split(", ", 1)[1]
        median = statistics.median(times[name])
        p90 = statistics.quantiles(times[name], n=10)[-1]
        processor = statistics.median(processor_times[name])
        print(f"{name:<22} {median:>10.2f} {p90:>8.2f} {median - statistics.median(times[baseline]):>+9.2f} "
              f"{processor:>8.2f} {processor - statistics.median(processor_times[baseline]):>+9.2f}")


if __name__ == "__main__":
    main()
