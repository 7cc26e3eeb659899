#!/usr/bin/env python3
"""What including portpool costs a translation unit: parse time and preprocessed lines.

Builds one-include files in a temporary directory, parses each N times with
`CXX -std=c++17 -fsyntax-only` (the best time counts: other work on the machine only slows a
parse down; both wall and CPU time are kept), counts the non-blank lines of each preprocessed file,
and prints them with two ratios (of CPU times unless --clock wall):

  core     <portpool/port_pool_manager.hpp> / the floor (the standard headers a user of the
           library includes anyway, and {fmt}), in a program compiled separately
           (PORTPOOL_SEPARATE_COMPILATION: the core's bodies are compiled once, in the unit that
           includes <portpool/src.hpp>); target <= 1.25. The same ratio header-only (every
           including unit compiles the bodies) is printed beside it, with no target.
  umbrella <portpool/portpool.hpp> / <boost/asio.hpp>, header-only; target <= 1.0

The manager_and_fmt row is the manager's header with <fmt/format.h>, which the manager's header
does not include: what a file that uses {fmt} too pays (printed, not a target).

    bench/compile_cost.py [--cxx g++] [--runs 7] [--clock cpu|wall] [--check] [-I DIR ...]

--check exits 1 when a target is missed (without it the script only reports). The include
directories default to this tree's include/ (the system's for Boost and {fmt}).
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

FLOOR_HEADERS = ["<string>", "<vector>", "<filesystem>", "<functional>", "<optional>", "<chrono>", "<fmt/format.h>"]

SEPARATE = "#define PORTPOOL_SEPARATE_COMPILATION"

SUBJECTS = [
    ("floor", FLOOR_HEADERS),
    ("fmt", ["<fmt/format.h>"]),
    ("asio", ["<boost/asio.hpp>"]),
    ("port_pool_manager", ["<portpool/port_pool_manager.hpp>"]),
    ("manager_separate", [SEPARATE, "<portpool/port_pool_manager.hpp>"]),
    ("manager_and_fmt", ["<portpool/port_pool_manager.hpp>", "<fmt/format.h>"]),
    ("registry", ["<portpool/registry.hpp>"]),
    ("registry_separate", [SEPARATE, "<portpool/registry.hpp>"]),
    ("listening_lease", ["<portpool/listening_lease.hpp>"]),
    ("portpool", ["<portpool/portpool.hpp>"]),
    ("portpool_separate", [SEPARATE, "<portpool/portpool.hpp>"]),
]

CORE_TARGET = 1.25
UMBRELLA_TARGET = 1.0


def compiler_command(arguments, include_dirs, source, mode):
    command = [arguments.cxx, "-std=c++17", mode]
    for directory in include_dirs:
        command += ["-I", directory]
    return command + [source]


def best_parse_seconds(arguments, include_dirs, source):
    """The best wall time and the best CPU time (user + system) of `runs` parses."""
    best_wall = best_cpu = float("inf")
    for _ in range(arguments.runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(compiler_command(arguments, include_dirs, source, "-fsyntax-only"), check=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def preprocessed_lines(arguments, include_dirs, source):
    output = subprocess.run(compiler_command(arguments, include_dirs, source, "-E"),
                            check=True, capture_output=True, text=True).stdout
    return sum(1 for line in output.splitlines() if line.strip() and not line.startswith("#"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cxx", default=os.environ.get("CXX", "g++"), help="the compiler (default: $CXX or g++)")
    parser.add_argument("--runs", type=int, default=7, help="parses per file; the best counts (default 7)")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu",
                        help="what the ratios compare (default cpu: user + system time, which other work "
                             "on the machine disturbs less than wall time)")
    parser.add_argument("-I", dest="include_dirs", action="append", default=[], help="an include directory")
    arguments = parser.parse_args()
    if arguments.runs < 1:
        parser.error("--runs must be at least 1")

    tree_include = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "include")
    include_dirs = arguments.include_dirs or [os.path.normpath(tree_include)]

    wall, cpu = {}, {}
    with tempfile.TemporaryDirectory(prefix="portpool-compile-cost-") as directory:
        print(f"{'file':<20} {'wall (s)':>9} {'cpu (s)':>8} {'preprocessed lines':>19}")
        for name, headers in SUBJECTS:
            source = os.path.join(directory, f"{name}.cpp")
            with open(source, "w") as file:
                file.writelines(f"{header}\n" if header.startswith("#") else f"#include {header}\n"
                                for header in headers)
            try:
                wall[name], cpu[name] = best_parse_seconds(arguments, include_dirs, source)
                lines = preprocessed_lines(arguments, include_dirs, source)
            except subprocess.CalledProcessError as error:
                sys.exit(f"compile_cost: {name}.cpp does not compile ({error}); check --cxx and -I")
            print(f"{name:<20} {wall[name]:>9.2f} {cpu[name]:>8.2f} {lines:>19}")

    best, other = (cpu, wall) if arguments.clock == "cpu" else (wall, cpu)
    other_clock = "wall" if arguments.clock == "cpu" else "cpu"
    missed = []
    for label, subject, reference, target in (("core", "manager_separate", "floor", CORE_TARGET),
                                              ("umbrella", "portpool", "asio", UMBRELLA_TARGET)):
        ratio = best[subject] / best[reference]
        verdict = "met" if ratio <= target else "missed"
        print(f"{label}: {subject} / {reference} = {ratio:.2f} in {arguments.clock} time "
              f"({other[subject] / other[reference]:.2f} in {other_clock} time), target <= {target}: {verdict}")
        if ratio > target:
            missed.append(label)
    print(f"header-only: port_pool_manager / floor = {best['port_pool_manager'] / best['floor']:.2f} in "
          f"{arguments.clock} time (no target: every including unit compiles the core's bodies)")
    print(f"with {{fmt}}: manager_and_fmt / floor = {best['manager_and_fmt'] / best['floor']:.2f} in "
          f"{arguments.clock} time (not a target)")
    if arguments.check and missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
