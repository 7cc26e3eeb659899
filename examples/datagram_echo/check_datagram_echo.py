"""Runs datagram_echo twice on one pool: each copy gets its own port, and each echoes a datagram."""

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile

PROGRAM = sys.argv[1]


def start(pool, lock_dir):
    process = subprocess.Popen([PROGRAM, *pool], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PORTPOOL_LOCK_DIR": lock_dir})
    line = process.stdout.readline()
    match = re.fullmatch(r"echoing datagrams on 127\.0\.0\.1:(\d+)\n", line)
    assert match, f"unexpected first line: {line!r}"
    return process, int(match.group(1))


def echoed(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(30)
        client.sendto(b"ping", ("127.0.0.1", port))
        return client.recv(64)


def free_udp_range(count):
    """A range of `count` ports with no UDP socket bound when looked at (the pool skips any taken later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        first = probe.getsockname()[1]
    first = min(first, 65535 - count)
    return [str(first), str(first + count - 1)]


with tempfile.TemporaryDirectory() as lock_dir:
    pool = free_udp_range(8)
    first, first_port = start(pool, lock_dir)
    second, second_port = start(pool, lock_dir)
    try:
        assert first_port != second_port, "two copies got the same port"
        assert echoed(first_port) == b"ping"
        assert echoed(second_port) == b"ping"
    finally:
        for process in (first, second):
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
print("two copies echoed on ports of their own")
