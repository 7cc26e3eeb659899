#!/usr/bin/env python3
"""What `portpool run --adopt` (the preload mechanism) adds to the start-up of `portpool run`.

Runs each variant RUNS times to its end, the variants interleaved in random order (so that load on
the machine falls on all of them alike), and prints for each the median and the 90th percentile of
the wall time, the median CPU time (user and system, of the process and of every process of its
tree that was waited for: the keeper and CMD), and the medians' differences from its baseline
("added"):

  plain, true            portpool run web -- /bin/true                  (baseline of the run variants)
  socket, true           portpool run --socket web -- /bin/true         (the held listening socket alone)
  adopt, true            portpool run --adopt 8000 web -- /bin/true     (the socket and libportpool-adopt.so)

With --bind, also a Python program that binds and listens on the port, passed `{port}` under plain
`run` and 8000 under `run --adopt` (adopted):

  plain, python bind     portpool run web -- python3 -c BIND {port}
  adopt, python bind     portpool run --adopt 8000 web -- python3 -c BIND 8000

And the library's own cost, which preload adds to the two programs it is loaded into (the keeper,
which is `portpool` itself, and CMD), without `run` around them:

  exec true              /bin/true                                      (baseline)
  exec true, preload     LD_PRELOAD=libportpool-adopt.so /bin/true
  exec portpool          portpool --version                             (baseline)
  exec portpool, preload LD_PRELOAD=libportpool-adopt.so portpool --version

    bench/adopt_startup.py PORTPOOL [--runs 200] [--bind]

The runs use a private lock directory and a pool of ports the kernel just gave out.
"""

import argparse
import collections
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

Variant = collections.namedtuple("Variant", "name baseline argv preload")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for held in sockets:
        held.bind(("127.0.0.1", 0))
    ports = [held.getsockname()[1] for held in sockets]
    for held in sockets:
        held.close()
    return ports


def adopt_library(portpool):
    directory = os.path.dirname(os.path.abspath(portpool))
    for candidate in (os.path.join(directory, "libportpool-adopt.so"),
                      os.path.join(directory, "..", "lib", "portpool", "libportpool-adopt.so")):
        if os.path.exists(candidate):
            return os.path.normpath(candidate)
    sys.exit(f"libportpool-adopt.so is not beside {portpool} nor in ../lib/portpool/")


def variants(portpool, python, bind):
    library = adopt_library(portpool)

    def run(*arguments):
        return [portpool, "run", "--quiet", *arguments]

    result = [
        Variant("exec true", "exec true", ["/bin/true"], None),
        Variant("exec true, preload", "exec true", ["/bin/true"], library),
        Variant("exec portpool", "exec portpool", [portpool, "--version"], None),
        Variant("exec portpool, preload", "exec portpool", [portpool, "--version"], library),
        Variant("plain, true", "plain, true", run("web", "--", "/bin/true"), None),
        Variant("socket, true", "plain, true", run("--socket", "web", "--", "/bin/true"), None),
        Variant("adopt, true", "plain, true", run("--adopt", "8000", "web", "--", "/bin/true"), None),
    ]
    if bind:
        # No socket variant: the held socket leaves the port to no other bind.
        result += [
            Variant("plain, python bind", "plain, python bind",
                    run("web", "--", python, "-c", BIND_PROGRAM, "{port}"), None),
            Variant("adopt, python bind", "plain, python bind",
                    run("--adopt", "8000", "web", "--", python, "-c", BIND_PROGRAM, "8000"), None),
        ]
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
    environment = dict(os.environ, PORTPOOL_CONFIG=config, PORTPOOL_LOCK_DIR=os.path.join(directory, "locks"))

    chosen = variants(os.path.abspath(arguments.portpool), python, arguments.bind)
    schedule = [variant for variant in chosen for _ in range(arguments.runs)]
    random.shuffle(schedule)
    wall = {variant.name: [] for variant in chosen}
    processor = {variant.name: [] for variant in chosen}
    for variant in schedule:
        run_environment = environment if variant.preload is None else dict(environment, LD_PRELOAD=variant.preload)
        start = time.perf_counter()
        process = subprocess.Popen(variant.argv, env=run_environment, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        errors = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{variant.argv} exited {os.waitstatus_to_exitcode(status)}: {errors.decode()}")
        wall[variant.name].append(elapsed * 1000)
        processor[variant.name].append((usage.ru_utime + usage.ru_stime) * 1000)
    shutil.rmtree(directory)

    print(f"{'variant':<24} {'median ms':>10} {'p90 ms':>8} {'added':>8} {'CPU ms':>8} {'added':>8}")
    for variant in chosen:
        median = statistics.median(wall[variant.name])
        p90 = statistics.quantiles(wall[variant.name], n=10)[-1]
        cpu = statistics.median(processor[variant.name])
        print(f"{variant.name:<24} {median:>10.2f} {p90:>8.2f} "
              f"{median - statistics.median(wall[variant.baseline]):>+8.2f} {cpu:>8.2f} "
              f"{cpu - statistics.median(processor[variant.baseline]):>+8.2f}")


if __name__ == "__main__":
    main()
