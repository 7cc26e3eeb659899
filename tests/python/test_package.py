"""The Python package against the real portpool command (PORTPOOL_BIN): real lock files, real processes."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import portpool
from support import free_block, free_ports, shared_pool_config

HERE = Path(__file__).resolve().parent
# The venv the package under test was installed into (installed_package.sh), or None when the
# suite runs from the source folder (bindings/python on PYTHONPATH).
INSTALLED_IN = os.environ.get("PORTPOOL_PYTHON_VENV")
# Installed, pytest loads the plugin through its entry point by itself; from the source folder it
# needs -p.
PLUGIN_FROM_ENTRY_POINT = any(entry.name == "portpool" for entry in entry_points(group="pytest11"))
PLUGIN_OPTIONS = [] if PLUGIN_FROM_ENTRY_POINT else ["-p", "portpool.pytest_plugin"]


@pytest.fixture
def space(tmp_path):
    ports = free_ports(2)
    return {
        "ports": ports,
        "config": shared_pool_config(tmp_path, "web", ports),
        "lock_dir": str(tmp_path / "locks"),
        "dir": tmp_path,
    }


def wait_until(condition, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


def test_acquire_holds_a_pool_port_until_release(space):
    lease = portpool.acquire("web", config=space["config"], lock_dir=space["lock_dir"])
    assert lease.port == space["ports"][0]
    assert (lease.service, lease.instance, lease.lock_dir) == ("web", 1, space["lock_dir"])
    holders = portpool.status(lock_dir=space["lock_dir"])
    # The holder is this program; the ``portpool lease`` process holds the lock for it.
    assert [(holder.port, holder.pid, holder.helper_pid) for holder in holders] == [
        (lease.port, os.getpid(), lease.pid)
    ]
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", lease.port))
        server.listen()
    lease.release()
    assert not lease.held
    assert portpool.status(lock_dir=space["lock_dir"]) == []
    lease.release()  # twice is harmless


def test_exhausted_pool_is_a_typed_error_naming_its_holders(space):
    options = {"config": space["config"], "lock_dir": space["lock_dir"]}
    with portpool.acquire("web", **options) as first, portpool.acquire("web", **options) as second:
        assert {first.port, second.port} == set(space["ports"])
        with pytest.raises(portpool.PoolExhaustedError) as caught:
            portpool.acquire("web", **options)
        assert caught.value.exit_code == 75
        assert "web" in str(caught.value)
        assert sorted(holder.helper_pid for holder in caught.value.holders) == sorted([first.pid, second.pid])
        refusals = {refusal.port: refusal for refusal in caught.value.refusals}
        assert set(refusals) == set(space["ports"])
        for lease in (first, second):
            assert refusals[lease.port].reason == "held"
            assert refusals[lease.port].holder.pid == os.getpid()
            assert refusals[lease.port].holder.helper_pid == lease.pid
            assert (
                f"held by pid {os.getpid()} (web, instance 1; the lock is its helper's, pid {lease.pid})"
                in refusals[lease.port].detail
            )
    assert portpool.status(lock_dir=space["lock_dir"]) == []


def test_exhausted_pool_gives_each_ports_reason_from_the_failed_call(space):
    options = {"config": space["config"], "lock_dir": space["lock_dir"]}
    with portpool.acquire("web", **options) as lease:
        other = next(port for port in space["ports"] if port != lease.port)
        with socket.create_server(("127.0.0.1", other)):
            with pytest.raises(portpool.PoolExhaustedError) as caught:
                portpool.acquire("web", **options)
    refusals = {refusal.port: refusal for refusal in caught.value.refusals}
    assert refusals[lease.port].reason == "held"
    assert refusals[lease.port].holder.helper_pid == lease.pid
    assert refusals[other].reason == "in_use"
    assert refusals[other].holder is None
    assert "in use by a program outside portpool" in refusals[other].detail
    assert [holder.helper_pid for holder in caught.value.holders] == [lease.pid]


def test_errors_are_typed(space):
    with pytest.raises(portpool.UsageError, match="unknown service 'nope'"):
        portpool.acquire("nope", config=space["config"], lock_dir=space["lock_dir"])
    bad = space["dir"] / "bad.toml"
    bad.write_text("[services.web]\nsise = 3\n")
    with pytest.raises(portpool.ConfigError):
        portpool.acquire("web", config=str(bad), lock_dir=space["lock_dir"])
    link = space["dir"] / "link"
    link.symlink_to(space["dir"])
    with pytest.raises(portpool.LockDirError):
        portpool.acquire("web", config=space["config"], lock_dir=str(link))
    with pytest.raises(portpool.UsageError, match="SHARD is not set"):
        portpool.acquire("web", config=space["config"], lock_dir=space["lock_dir"], instance="from-env=SHARD")


def test_killing_the_python_process_frees_its_port_at_once(space):
    script = textwrap.dedent(
        """
        import sys, portpool
        lease = portpool.acquire("web", config=sys.argv[1], lock_dir=sys.argv[2])
        print(lease.port, flush=True)
        sys.stdin.read()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, space["config"], space["lock_dir"]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert int(holder.stdout.readline()) == space["ports"][0]
        assert len(portpool.status(lock_dir=space["lock_dir"])) == 1
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        wait_until(lambda: portpool.status(lock_dir=space["lock_dir"]) == [], "the killed process's port is free")
    finally:
        holder.kill()
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()


def test_listen_gives_the_socket_already_listening_on_the_port(space):
    with portpool.acquire("web", config=space["config"], lock_dir=space["lock_dir"], listen=True) as lease:
        assert lease.socket.getsockname() == ("127.0.0.1", lease.port)
        with socket.create_connection(("127.0.0.1", lease.port)) as client:
            accepted, _ = lease.socket.accept()
            accepted.sendall(b"hello")
            assert client.recv(5) == b"hello"
            accepted.close()
    assert portpool.status(lock_dir=space["lock_dir"]) == []


def waiting_lease_process_started():
    """Whether a `portpool lease --wait` child of this process is running."""
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) != os.getpid():
                continue
            if b"--wait" in (entry / "cmdline").read_bytes().split(b"\0"):
                return True
        except (OSError, ValueError, IndexError):
            continue
    return False


def test_acquire_with_wait_takes_the_port_released_while_it_waits(space):
    options = {"config": space["config"], "lock_dir": space["lock_dir"]}
    first = portpool.acquire("web", **options)
    second = portpool.acquire("web", **options)
    result = {}
    waiter = threading.Thread(target=lambda: result.update(lease=portpool.acquire("web", wait=120, **options)))
    waiter.start()
    wait_until(waiting_lease_process_started, "the waiting lease process runs")
    assert waiter.is_alive()
    second.release()
    waiter.join(timeout=60)
    assert not waiter.is_alive()
    assert result["lease"].port == second.port
    result["lease"].release()
    first.release()


def test_acquire_with_a_wait_that_runs_out_names_the_holders(space):
    options = {"config": space["config"], "lock_dir": space["lock_dir"]}
    with portpool.acquire("web", **options) as first, portpool.acquire("web", **options) as second:
        started = time.monotonic()
        with pytest.raises(portpool.PoolExhaustedError) as caught:
            portpool.acquire("web", wait=0.5, **options)
        assert time.monotonic() - started >= 0.5
        assert {holder.helper_pid for holder in caught.value.holders} == {first.pid, second.pid}
    for wrong in (-1, "10s", True):
        with pytest.raises(portpool.UsageError, match="wait is"):
            portpool.acquire("web", wait=wrong, **options)
    assert portpool.status(lock_dir=space["lock_dir"]) == []


def test_instance_from_environment(monkeypatch):
    for name in portpool.WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(portpool.UsageError, match="PYTEST_XDIST_WORKER"):
        portpool.instance_from_environment()
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    assert portpool.instance_from_environment() == 4
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gwx")
    with pytest.raises(portpool.UsageError, match="PYTEST_XDIST_WORKER is 'gwx'"):
        portpool.instance_from_environment()
    monkeypatch.setenv("SHARD", "2")
    assert portpool.instance_from_environment("SHARD") == 2
    assert portpool.instance_from_environment("SHARD+1") == 3
    assert portpool.instance_from_environment("SHARD+0") == 2
    monkeypatch.setenv("SHARD", "0")
    with pytest.raises(portpool.UsageError, match="SHARD is '0'"):
        portpool.instance_from_environment("SHARD")


def test_zero_based_runners_give_instances_from_1(monkeypatch):
    for name in portpool.WORKER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MOCHA_WORKER_ID", "0")
    assert portpool.instance_from_environment() == 1
    monkeypatch.delenv("MOCHA_WORKER_ID")
    monkeypatch.setenv("NEXTEST_TEST_GLOBAL_SLOT", "3")
    assert portpool.instance_from_environment() == 4


def test_table_gives_the_pools(space):
    result = portpool.table(config=space["config"], instance=2)
    assert result["instance"] == 2
    assert [(service["name"], service["ports"]) for service in result["services"]] == [("web", space["ports"])]


def test_a_lease_its_holder_and_its_table_entry_say_their_transport(space):
    web_port, dns_port = space["ports"]
    config = Path(space["config"])
    config.write_text(
        f"[services.web]\nports = [{web_port}]\n\n[services.dns]\nports = [{dns_port}]\ntransport = \"udp\"\n"
    )
    options = {"config": str(config), "lock_dir": space["lock_dir"]}
    with portpool.acquire("web", **options) as web, portpool.acquire("dns", **options) as dns:
        assert (web.transport, dns.transport) == ("tcp", "udp")
        assert dns.port == dns_port
        holders = portpool.status(lock_dir=space["lock_dir"])
        assert sorted((holder.service, holder.transport) for holder in holders) == [("dns", "udp"), ("web", "tcp")]
    services = portpool.table(config=str(config))["services"]
    assert [(service["name"], service["transport"]) for service in services] == [("web", "tcp"), ("dns", "udp")]


def run_pytest(arguments, environment=None):
    return subprocess.run(
        [sys.executable, "-m", "pytest", *PLUGIN_OPTIONS, "-p", "no:cacheprovider", "-q",
         "--rootdir", str(HERE / "xdist_suite"), *arguments],
        cwd=HERE / "xdist_suite",
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_plugin_takes_the_service_from_the_option_and_instance_1_without_xdist(space, monkeypatch):
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    check = str(HERE / "xdist_suite" / "option_check.py")
    common = ["--portpool-config", space["config"], "--portpool-lock-dir", space["lock_dir"]]
    result = run_pytest([*common, "--portpool-service", "web", check])
    assert result.returncode == 0, result.stdout + result.stderr
    missing = run_pytest([*common, check])
    assert missing.returncode != 0
    assert "@pytest.mark.portpool('SERVICE') or pass --portpool-service" in missing.stdout + missing.stderr


def test_pytest_n_4_gives_every_test_its_own_port_without_collisions(tmp_path):
    """pytest -n 4 over tests that each start a server on their fixture's port: none collides,
    and each worker uses its own instance's pool."""
    stride = 10
    base = free_block(4 * stride, stride)
    config = tmp_path / "ports.toml"
    config.write_text(f"[instances]\nbase = {base}\nstride = {stride}\nmax = 4\n\n[services.web]\noffset = 0\nsize = 3\n")
    record = tmp_path / "record"
    record.mkdir()
    environment = dict(os.environ, PORTPOOL_SERVERS_RECORD=str(record))
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [environment.get("PYTHONPATH"), str(HERE)]))
    result = run_pytest(
        ["-n", "4", "--portpool-config", str(config), "--portpool-lock-dir", str(tmp_path / "locks"),
         str(HERE / "xdist_suite" / "servers_check.py")],
        environment,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "24 passed" in result.stdout, result.stdout
    entries = [json.loads(path.read_text()) for path in record.iterdir()]
    assert len(entries) == 24
    workers = {entry["worker"] for entry in entries}
    assert len(workers) == 4
    for entry in entries:
        instance = int(entry["worker"][2:]) + 1
        assert entry["instance"] == instance
        first = base + (instance - 1) * stride
        assert first <= entry["port"] < first + 3


def test_pytest_n_8_on_a_three_port_pool_waits_for_ports_instead_of_failing(tmp_path):
    """Eight workers, one pool of three ports shared by every instance: the fixture waits for a
    port, no test fails with an exhausted pool, and no port is given twice at once."""
    ports = free_ports(3)
    config = tmp_path / "ports.toml"
    config.write_text(f"[instances]\nmax = 8\n\n[services.web]\nports = [{', '.join(map(str, ports))}]\n")
    record = tmp_path / "record"
    record.mkdir()
    environment = dict(os.environ, PORTPOOL_SERVERS_RECORD=str(record))
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [environment.get("PYTHONPATH"), str(HERE)]))
    result = run_pytest(
        ["-n", "8", "--portpool-config", str(config), "--portpool-lock-dir", str(tmp_path / "locks"),
         str(HERE / "xdist_suite" / "servers_check.py")],
        environment,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "24 passed" in result.stdout, result.stdout
    entries = [json.loads(path.read_text()) for path in record.iterdir()]
    assert {entry["port"] for entry in entries} <= set(ports)


def test_output_of_another_format_version_is_a_clear_error(tmp_path, monkeypatch):
    """A portpool command from another release: the package refuses its output instead of misreading it."""
    command = tmp_path / "portpool"
    command.write_text('#!/bin/sh\necho \'{"format_version": 3, "holders": [], "port": 1}\'\n[ "$1" != lease ] || exec cat >/dev/null\n')
    command.chmod(0o755)
    monkeypatch.setenv("PORTPOOL_BIN", str(command))
    for call in (portpool.status, lambda: portpool.acquire("web")):
        with pytest.raises(portpool.SystemFailureError, match="writes output format 3, this package reads format 2"):
            call()


def test_status_gives_every_field_of_the_holder(space):
    holder = subprocess.Popen(
        [portpool.find_command(), "run", "--quiet", "--config", space["config"], "--lock-dir", space["lock_dir"],
         "--protocol", "http", "--health", "/health", "--service-version", "1.2.3", "--tag", "blue",
         "--meta", "team=ports", "web", "--", sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
    )
    try:
        wait_until(lambda: portpool.status(lock_dir=space["lock_dir"]), "the holder is listed")
        [listed] = portpool.status(lock_dir=space["lock_dir"])
        assert (listed.port, listed.service, listed.pid, listed.instance) == (space["ports"][0], "web", holder.pid, 1)
        assert listed.readiness in ("starting", "ready", "unknown")
        assert (listed.protocol, listed.health, listed.version) == ("http", "/health", "1.2.3")
        assert listed.tags == ("blue",)
        assert listed.meta == {"team": "ports"}
        assert listed.since.endswith("Z")
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


@pytest.mark.skipif(not INSTALLED_IN, reason="run from the source folder (installed_package.sh runs it from a venv)")
def test_the_package_is_the_venv_install_and_its_plugin_came_through_the_entry_point(pytestconfig):
    package = Path(portpool.__file__).resolve().parent
    assert package.is_relative_to(Path(INSTALLED_IN).resolve())
    assert (package / "py.typed").is_file()
    plugin = pytestconfig.pluginmanager.get_plugin("portpool")
    assert plugin is not None and plugin.__name__ == "portpool.pytest_plugin"
