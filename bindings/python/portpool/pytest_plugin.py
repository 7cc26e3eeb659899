"""The pytest plugin of portpool: a ``portpool_port`` fixture that gives each test a port of its
service's pool, with each pytest-xdist worker on its own instance (gw0 on 1, gw1 on 2, ...), so
that parallel workers get disjoint, stable pools.

The service comes from the test's marker, ``@pytest.mark.portpool("api-server")``, else from
``--portpool-service``. ``--portpool-config`` and ``--portpool-lock-dir`` choose the table and
the lock directory; ``--portpool-instance`` overrides the instance. When the pool is exhausted the
fixture waits up to ``--portpool-wait`` seconds (default 60) for a port to be released, then fails
naming the holders.
"""

from __future__ import annotations

import os

import pytest

import portpool

#: How long the fixture waits for a port of an exhausted pool: long enough for other workers'
#: tests to end, short enough that a port held by a stuck process fails the run.
DEFAULT_WAIT_SECONDS = 60.0


def pytest_addoption(parser):
    group = parser.getgroup("portpool", "ports from portpool pools")
    group.addoption("--portpool-service", help="the service whose pool portpool_port takes from (when no marker)")
    group.addoption("--portpool-config", help="the port table, a TOML file (default: the one the portpool command finds, else its built-in example table)")
    group.addoption("--portpool-lock-dir", help="portpool's lock directory (default: portpool's)")
    group.addoption(
        "--portpool-instance",
        help="instance number, auto, or from-env=VAR (default: the xdist worker's, else 1)",
    )
    group.addoption(
        "--portpool-wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        help=f"seconds to wait for a port of an exhausted pool (default {DEFAULT_WAIT_SECONDS:g}; 0: fail at once)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "portpool(service): the service whose pool the portpool_port fixture takes a port from"
    )


def _instance(config):
    chosen = config.getoption("portpool_instance")
    if chosen:
        return chosen
    return "from-env=PYTEST_XDIST_WORKER" if "PYTEST_XDIST_WORKER" in os.environ else None


def _service(request):
    marker = request.node.get_closest_marker("portpool")
    if marker is not None:
        service = marker.args[0] if marker.args else marker.kwargs.get("service")
        if service:
            return service
    service = request.config.getoption("portpool_service")
    if not service:
        raise pytest.UsageError(
            "portpool_port needs a service: mark the test @pytest.mark.portpool('SERVICE') or pass --portpool-service"
        )
    return service


@pytest.fixture
def portpool_lease(request):
    """A portpool.Lease of the test's service, released after the test."""
    config = request.config
    lease = portpool.acquire(
        _service(request),
        instance=_instance(config),
        config=config.getoption("portpool_config"),
        lock_dir=config.getoption("portpool_lock_dir"),
        wait=config.getoption("portpool_wait"),
    )
    yield lease
    lease.release()


@pytest.fixture
def portpool_port(portpool_lease):
    """A port of the test's service's pool, exclusively this test's until it ends."""
    return portpool_lease.port
