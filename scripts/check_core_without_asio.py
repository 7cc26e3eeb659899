#!/usr/bin/env python3
"""Checks that the core headers of portpool include no Boost.Asio, directly or transitively.

A program that only acquires ports (PortPoolManager, PortLease, Registry, InstanceManager, ...)
must not pay for parsing Asio; only <portpool/listening_lease.hpp>, <portpool/port_shield.hpp>,
<portpool/ip_address_asio.hpp> and <portpool/asio.hpp>, which gathers them, may bring it in; the
umbrella <portpool/portpool.hpp> is core. Each
core header is preprocessed alone (`CXX -M -MG`: every header it reaches is listed, found or
not), and any path under boost/asio fails the check, naming the header that reached it.

Usage: check_core_without_asio.py --cxx CXX [-I DIR]... INCLUDE_DIR...
(the first INCLUDE_DIR, or the one holding portpool/, is where the core headers are read)
"""

import argparse
import subprocess
import sys
from pathlib import Path

CORE_HEADERS = [
    "config_file.hpp", "error.hpp", "fetch_blocked_ports.hpp", "holder.hpp", "instance_manager.hpp",
    "ip_address.hpp", "lock_dir.hpp", "lock_policy.hpp", "options.hpp", "parse_integer.hpp",
    "port_lease.hpp", "port_pool_manager.hpp", "portpool.hpp", "probe.hpp", "registry.hpp", "registry_watcher.hpp",
    "service_description.hpp", "service_port_table.hpp", "shield_options.hpp", "transport.hpp", "unique_fd.hpp",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cxx", required=True, help="the C++ compiler")
    parser.add_argument("-I", dest="extra", action="append", default=[],
                        help="another include directory (';'-separated lists are split)")
    parser.add_argument("include_dirs", nargs="+", help="include directories, searched in order")
    arguments = parser.parse_args()

    include_dirs = list(arguments.include_dirs)
    for item in arguments.extra:
        include_dirs += [part for part in item.split(";") if part]
    root = next((Path(d) for d in arguments.include_dirs if (Path(d) / "portpool" / "port_pool_manager.hpp").is_file()),
                None)
    if root is None:
        sys.exit("check_core_without_asio: no portpool/port_pool_manager.hpp under " + " ".join(arguments.include_dirs))

    failures = []
    for header in CORE_HEADERS:
        command = [arguments.cxx, "-std=c++17", "-M", "-MG", "-x", "c++"]
        command += [f"-I{d}" for d in include_dirs]
        command.append(str(root / "portpool" / header))
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            failures.append(f"portpool/{header}: cannot be preprocessed:\n{result.stderr}")
            continue
        asio = sorted({word for word in result.stdout.split() if "boost/asio" in word})
        if asio:
            failures.append(f"portpool/{header} includes Boost.Asio ({len(asio)} headers, e.g. {asio[0]}); "
                            "keep Asio in listening_lease.hpp, port_shield.hpp, ip_address_asio.hpp and asio.hpp")
    for failure in failures:
        print(failure)
    if failures:
        sys.exit(1)
    print(f"{len(CORE_HEADERS)} core headers, none includes Boost.Asio")


if __name__ == "__main__":
    main()
