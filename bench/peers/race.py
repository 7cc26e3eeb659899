"""K processes of a peer tool race for a small range of K/2 ports, as bench/contention_race does
for portpool, and each listens on what it got.

    python3 race.py --tool NAME --processes 2,8,32,128 --rounds 5 --csv FILE -- COMMAND...

COMMAND is started K times with FIRST and LAST (the range) appended. A child prints "ready",
waits for end of file on its standard input (one pipe shared by all: the start signal), acquires,
listens on 127.0.0.1, prints "PORT LATENCY_US DONE_MONOTONIC_NS ok|failed|none", and holds its
port until this driver ends it, after every child has reported. Rows are appended to the CSV in
the columns of contention_race.
"""

import argparse
import os
import select
import socket
import subprocess
import time


def bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_range(count, lowest=26000, highest=32767):
    for first in range(lowest, highest - count + 1, count):
        if all(bindable(port) for port in range(first, first + count)):
            return first, first + count - 1
    raise RuntimeError(f"no {count} consecutive free ports")


def read_line(child, deadline):
    line = b""
    while not line.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([child.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(child.stdout.fileno(), 1)
        if not chunk:
            break
        line += chunk
    return line.decode().strip()


def run_round(command, processes, first, last):
    start_read, start_write = os.pipe()
    children = [subprocess.Popen(command + [str(first), str(last)], stdin=start_read, stdout=subprocess.PIPE)
                for _ in range(processes)]
    os.close(start_read)
    deadline = time.monotonic() + 120
    ready = [read_line(child, deadline) == "ready" for child in children]
    started_ns = time.monotonic_ns()
    os.close(start_write)
    reports = [read_line(child, deadline) if is_ready else "" for child, is_ready in zip(children, ready)]
    for child in children:
        child.kill()
        child.wait()
        child.stdout.close()
    return started_ns, reports


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tool", required=True)
    parser.add_argument("--processes", default="2,8,32,128")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--csv", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    arguments = parser.parse_args()
    command = arguments.command[1:] if arguments.command[:1] == ["--"] else arguments.command
    with open(arguments.csv, "a", encoding="utf-8") as csv:
        for processes in (int(item) for item in arguments.processes.split(",")):
            for round_index in range(arguments.rounds):
                first, last = free_range(max(1, processes // 2))
                started_ns, reports = run_round(command, processes, first, last)
                for report in reports:
                    fields = report.split()
                    if len(fields) != 4:
                        csv.write(f"{arguments.tool},{processes},{round_index},{first},{last},0,,,lost\n")
                        continue
                    port, latency_us, done_ns, listened = fields
                    since_start_us = (int(done_ns) - started_ns) / 1e3
                    csv.write(f"{arguments.tool},{processes},{round_index},{first},{last},{port},{latency_us},"
                              f"{since_start_us},{listened}\n")


main()
