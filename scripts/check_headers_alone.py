#!/usr/bin/env python3
"""Checks that every public header of portpool compiles on its own, without a warning.

Each header under INCLUDE_DIR/portpool/ (not detail/ or impl/, which the public headers include) is
compiled alone (a unit that includes it, `CXX -std=c++17 -fsyntax-only` with the project's warning flags and -Werror), several
at a time: a header that relies on another being included first, or that warns, fails the check with
the compiler's words. Each is compiled twice: header-only, and with PORTPOOL_SEPARATE_COMPILATION,
where the core's headers leave their bodies out (a header that leaned on a body's includes fails
there). <portpool/src.hpp>, for separate compilation only, is compiled with it alone.

Usage: check_headers_alone.py --cxx CXX [-I DIR]... INCLUDE_DIR
"""

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SEPARATE_ONLY = "src.hpp"
WARNINGS = ["-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wsign-conversion", "-Wshadow", "-Werror"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cxx", required=True, help="the C++ compiler")
    parser.add_argument("-I", dest="extra", action="append", default=[],
                        help="another include directory (';'-separated lists are split)")
    parser.add_argument("include_dir", help="the directory holding portpool/")
    arguments = parser.parse_args()

    include_dirs = [arguments.include_dir]
    for item in arguments.extra:
        include_dirs += [part for part in item.split(";") if part]
    headers = sorted((Path(arguments.include_dir) / "portpool").glob("*.hpp"))
    if not headers:
        sys.exit(f"check_headers_alone: no header under {arguments.include_dir}/portpool")

    def compile_alone(unit):
        header, separate = unit
        command = [arguments.cxx, "-std=c++17", "-fsyntax-only", *WARNINGS]
        command += ["-DPORTPOOL_SEPARATE_COMPILATION"] if separate else []
        command += [f"-I{d}" for d in include_dirs]
        command += ["-x", "c++", "-"]
        text = f"#include <portpool/{header.name}>\n"
        result = subprocess.run(command, input=text, capture_output=True, text=True)
        return header, separate, result

    units = [(header, separate) for header in headers for separate in (False, True)
             if header.name != SEPARATE_ONLY or separate]
    failures = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for header, separate, result in pool.map(compile_alone, units):
            if result.returncode != 0 or result.stderr:
                mode = "with PORTPOOL_SEPARATE_COMPILATION" if separate else "header-only"
                failures.append(f"portpool/{header.name} does not compile alone ({mode}):\n{result.stderr}")
    for failure in failures:
        print(failure)
    if failures:
        sys.exit(1)
    print(f"{len(headers)} public headers, each compiles alone without a warning, header-only and separately "
          f"compiled")


if __name__ == "__main__":
    main()
