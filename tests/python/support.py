"""Test helpers: ports chosen at run time, a config and lock directory per test."""

import random
import socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_ports(count: int):
    ports = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def free_block(size: int, alignment: int) -> int:
    """The first port of `size` consecutive ports that are free now, starting at a multiple of `alignment`."""
    for _ in range(1000):
        first = random.randrange(20000 // alignment, 30000 // alignment) * alignment
        sockets = []
        try:
            for port in range(first, first + size):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError(f"no {size} consecutive free ports")


def shared_pool_config(directory, service, ports):
    path = directory / "ports.toml"
    path.write_text(f"[services.{service}]\nports = [{', '.join(map(str, ports))}]\n")
    return str(path)
