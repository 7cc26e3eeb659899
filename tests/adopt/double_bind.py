"""Binds like a server that listens on IPv4 and IPv6 separately, plus binds that must be left alone.

double_bind.py PORT UNIX_PATH: binds 0.0.0.0:PORT and [::]:PORT (v6-only), listens on both, binds
127.0.0.1:PORT again from another thread than the main one, binds 127.0.0.1:0 for TCP and UDP and a
Unix socket at UNIX_PATH, prints one JSON line of what each got, then waits to be killed.
"""

import json
import os
import signal
import socket
import sys
import threading


def inode(sock):
    return os.fstat(sock.fileno()).st_ino


def main():
    port = int(sys.argv[1])
    v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    v4.bind(("0.0.0.0", port))
    v4.listen()
    v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    v6.bind(("::", port))
    v6.listen()
    from_thread = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    binder = threading.Thread(target=from_thread.bind, args=(("127.0.0.1", port),))
    binder.start()
    binder.join()
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    other.bind(("127.0.0.1", 0))
    datagram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    datagram.bind(("127.0.0.1", 0))
    local = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    local.bind(sys.argv[2])
    print(
        json.dumps(
            {
                "v4_port": v4.getsockname()[1],
                "v4_inode": inode(v4),
                "v4_inheritable": os.get_inheritable(v4.fileno()),
                "v6_port": v6.getsockname()[1],
                "v6_inode": inode(v6),
                "thread_port": from_thread.getsockname()[1],
                "thread_inode": inode(from_thread),
                "other_port": other.getsockname()[1],
                "other_inode": inode(other),
                "datagram_port": datagram.getsockname()[1],
                "local_name": local.getsockname(),
            }
        ),
        flush=True,
    )
    signal.pause()


main()
