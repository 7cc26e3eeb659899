"""Run by test_package.py under pytest -n 4: each test starts a server on its fixture's port (with
SO_REUSEADDR, as servers do, which still fails while another socket listens on the port, so a
port given twice at once fails the test), keeps it up for a moment so that the workers overlap,
and records what it got."""

import json
import os
import socket
import time
import uuid

import pytest


def serve_briefly(port):
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            accepted.sendall(b"ok")
            assert client.recv(2) == b"ok"
        accepted.close()
        time.sleep(0.1)


def record(lease):
    entry = {"worker": os.environ["PYTEST_XDIST_WORKER"], "port": lease.port, "instance": lease.instance}
    path = os.path.join(os.environ["PORTPOOL_SERVERS_RECORD"], uuid.uuid4().hex)
    with open(path, "w", encoding="utf-8") as file:
        json.dump(entry, file)


@pytest.mark.portpool("web")
@pytest.mark.parametrize("number", range(24))
def test_server_on_its_own_port(number, portpool_port, portpool_lease):
    assert portpool_port == portpool_lease.port
    serve_briefly(portpool_port)
    record(portpool_lease)
