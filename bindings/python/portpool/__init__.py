"""portpool for Python: exclusive, crash-safe pools of TCP ports, through the ``portpool`` command.

Each lease is a ``portpool lease`` process that holds one port of a service's pool for as long as
this process keeps the pipe to it open: release() gives the port back, and the operating system
does when this process dies, however it dies. Standard library only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import weakref
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple, Union

__all__ = [
    "acquire",
    "status",
    "table",
    "find_command",
    "instance_from_environment",
    "Lease",
    "Holder",
    "Refusal",
    "PortpoolError",
    "UsageError",
    "PoolExhaustedError",
    "LockDirError",
    "ConfigError",
    "SystemFailureError",
    "WORKER_VARIABLES",
]

#: The exit codes of the portpool command.
EXIT_USAGE = 64
EXIT_SYSTEM_FAILURE = 71
EXIT_POOL_EXHAUSTED = 75
EXIT_UNSAFE_LOCK_DIR = 77
EXIT_BAD_CONFIG = 78

#: The variables through which test runners number their workers, as ``--instance from-env`` reads them.
WORKER_VARIABLES = ("PYTEST_XDIST_WORKER", "JEST_WORKER_ID", "VITEST_POOL_ID", "TEST_PARALLEL_INDEX",
                    "MOCHA_WORKER_ID", "NEXTEST_TEST_GLOBAL_SLOT")

#: How each worker variable writes its number: (text before the number, the first worker's number).
_WORKER_FORMS = {"PYTEST_XDIST_WORKER": ("gw", 0), "TEST_PARALLEL_INDEX": ("", 0), "MOCHA_WORKER_ID": ("", 0),
                 "NEXTEST_TEST_GLOBAL_SLOT": ("", 0)}

Instance = Union[int, str, None]


class PortpoolError(Exception):
    """Base of every error of this package; ``exit_code`` is the portpool command's (None if it did not run)."""

    def __init__(self, message: str, exit_code: Optional[int] = None):
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(PortpoolError):
    """Wrong arguments: an unknown service, an instance out of range, a missing worker variable."""


class PoolExhaustedError(PortpoolError):
    """No port of the pool could be taken.

    ``refusals`` says why, for each port of the pool (a ``Refusal``: its reason, the holder when a
    portpool holder has it, the explanation); ``holders`` are the holders among them.
    """

    def __init__(self, message: str, exit_code: Optional[int], refusals: List["Refusal"]):
        super().__init__(message, exit_code)
        self.refusals = refusals
        self.holders = [refusal.holder for refusal in refusals if refusal.holder is not None]


class LockDirError(PortpoolError):
    """The lock directory is unsafe (a symbolic link, another user's, writable by others) or unusable."""


class ConfigError(PortpoolError):
    """The config file is unreadable or invalid."""


class SystemFailureError(PortpoolError):
    """The portpool command cannot be found or run, or the system refused something."""


_ERROR_TYPES = {
    EXIT_USAGE: UsageError,
    EXIT_UNSAFE_LOCK_DIR: LockDirError,
    EXIT_BAD_CONFIG: ConfigError,
}


@dataclass(frozen=True)
class Holder:
    """One live holder of a port, as ``portpool status --json`` reports it.

    ``since``: ISO 8601, UTC. ``readiness``: ``"starting"``, ``"ready"`` or ``"unknown"``.
    ``protocol``, ``health`` (a path), ``version``, ``tags`` and ``meta`` are what the holder said
    about its service (``portpool run --protocol/--health/--service-version/--tag/--meta``), None or
    empty when it said nothing. ``reserved``: whether the port is safe from the kernel's ephemeral
    range (None: unknown, or not reported). ``transport``: the socket types the port is held for,
    ``"tcp"``, ``"udp"`` or ``"both"`` (``"tcp"`` from a portpool before transports). ``pid``: the
    holder as users know it (for a port taken through ``portpool lease``, as this package does, the
    program that asked for it); ``helper_pid``: the ``portpool lease`` process holding the lock for
    it, None when ``pid`` holds it itself. ``verified``: False when the record was read from a
    shared lock directory's lock file, which any member of the directory could have written.
    """

    port: int
    service: str
    pid: int
    instance: int
    instance_id: str
    since: str
    readiness: Optional[str] = None
    protocol: Optional[str] = None
    health: Optional[str] = None
    version: Optional[str] = None
    tags: Tuple[str, ...] = ()
    meta: Mapping[str, str] = field(default_factory=dict, hash=False)
    reserved: Optional[bool] = None
    transport: str = "tcp"
    helper_pid: Optional[int] = None
    verified: bool = True


@dataclass(frozen=True)
class Refusal:
    """Why one port of an exhausted pool was not handed out.

    ``reason``: ``"held"`` (a portpool holder has it: ``holder``), ``"in_use"`` (another program
    listens on it), ``"blocked_port"`` (browsers and fetch() refuse it), ``"lock_unusable"`` (its
    lock file cannot guard it) or ``"claimed_elsewhere"`` (another host claims it, fleet pools).
    """

    port: int
    reason: str
    holder: Optional[Holder]
    detail: str


def _holder_from(fields: dict) -> Holder:
    known = set(Holder.__dataclass_fields__)
    # Fields a newer portpool adds are left out rather than breaking this version.
    values = {key: value for key, value in fields.items() if key in known}
    values["tags"] = tuple(values.get("tags") or ())
    values["meta"] = dict(values.get("meta") or {})
    return Holder(**values)


def _refusals_from(report: dict) -> List[Refusal]:
    return [
        Refusal(
            port=item["port"],
            reason=item["reason"],
            holder=_holder_from(item["holder"]) if item.get("holder") else None,
            detail=item["detail"],
        )
        for item in report.get("refusals", [])
    ]


def find_command() -> str:
    """The portpool command: ``$PORTPOOL_BIN``, else the first ``portpool`` on ``PATH``."""
    configured = os.environ.get("PORTPOOL_BIN")
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            raise SystemFailureError(f"PORTPOOL_BIN is {configured}, which is not an executable file")
        return configured
    found = shutil.which("portpool")
    if found is None:
        raise SystemFailureError("the portpool command is not on PATH: install it, or set PORTPOOL_BIN to its path")
    return found


def instance_from_environment(variable: Optional[str] = None) -> int:
    """The instance number of this test-runner worker, read as ``portpool lease --instance from-env`` reads it.

    Without ``variable``: the first of WORKER_VARIABLES that is set (``gwN`` of pytest-xdist gives
    N+1, Jest's and Vitest's N, Playwright's, mocha's and cargo-nextest's N+1). With ``variable``: the
    number it holds (``"VAR+1"`` for a variable that counts from 0, ``"VAR+0"`` for one from 1).
    Raises UsageError naming the variable(s) when it is missing or malformed.
    """
    names = [variable] if variable else [name for name in WORKER_VARIABLES if name in os.environ]
    if not names:
        raise UsageError(
            "no test-runner worker variable is set (" + ", ".join(WORKER_VARIABLES) + "): run under a parallel "
            "test runner, or name the variable that holds the instance number (VAR, or VAR+1 when it counts from 0)",
            EXIT_USAGE,
        )
    name = names[0]
    prefix, first_worker = _WORKER_FORMS.get(name, ("", 1))
    if len(name) > 2 and name[-2] == "+" and name[-1] in "01":
        name, prefix, first_worker = name[:-2], "", 0 if name[-1] == "1" else 1
    value = os.environ.get(name)
    if value is None:
        raise UsageError(f"the environment variable {name} is not set: it should hold the instance number", EXIT_USAGE)
    digits = value[len(prefix):] if value.startswith(prefix) else ""
    if not digits.isascii() or not digits.isdigit() or int(digits) + 1 - first_worker < 1:
        expected = f"'{prefix}' followed by a number from {first_worker}" if prefix else f"a number from {first_worker}"
        raise UsageError(f"the environment variable {name} is '{value}', not an instance number: expected {expected}",
                         EXIT_USAGE)
    return int(digits) + 1 - first_worker


def _common_arguments(config: Optional[str], lock_dir: Optional[str]) -> List[str]:
    arguments = []
    if config is not None:
        arguments += ["--config", os.fspath(config)]
    if lock_dir is not None:
        arguments += ["--lock-dir", os.fspath(lock_dir)]
    return arguments


def _message(stderr: str, exit_code: int) -> str:
    lines = [line[len("portpool: "):] if line.startswith("portpool: ") else line for line in stderr.strip().splitlines()]
    lines = [line for line in lines if line != "see 'portpool --help'"]
    return "\n".join(lines) or f"portpool exited with status {exit_code}"


def _error(stderr: str, exit_code: int, refusals: Optional[List[Refusal]] = None) -> PortpoolError:
    message = _message(stderr, exit_code)
    if exit_code == EXIT_POOL_EXHAUSTED:
        return PoolExhaustedError(message, exit_code, refusals or [])
    return _ERROR_TYPES.get(exit_code, SystemFailureError)(message, exit_code)


#: The version of the portpool command's machine output that this package reads.
FORMAT_VERSION = 2


def _checked_format(output: dict) -> dict:
    """The command's output in a format this package reads, or SystemFailureError saying how to match them."""
    found = output.get("format_version", "without a version") if isinstance(output, dict) else "without a version"
    if found != FORMAT_VERSION:
        raise SystemFailureError(
            f"the portpool command ({find_command()}) writes output format {found}, this package reads format "
            f"{FORMAT_VERSION}: install the portpool command and this package from one release"
        )
    return output


def _run_json(arguments: List[str]):
    try:
        result = subprocess.run([find_command(), *arguments], capture_output=True, text=True, check=False)
    except OSError as error:
        raise SystemFailureError(f"cannot run portpool: {error}") from error
    if result.returncode != 0:
        raise _error(result.stderr, result.returncode)
    return _checked_format(json.loads(result.stdout))


def status(*, config: Optional[str] = None, lock_dir: Optional[str] = None) -> List[Holder]:
    """Who holds which port now."""
    result = _run_json(["status", "--json", *_common_arguments(config, lock_dir)])
    return [_holder_from(holder) for holder in result["holders"]]


def table(*, instance: Optional[int] = None, config: Optional[str] = None, lock_dir: Optional[str] = None) -> dict:
    """The services and their pools for one instance, and the config file they come from (None: the
    command's built-in example table): ``{"instance": N, "services": [{"name", "ports", ...}], "source": ...}``."""
    arguments = ["table", "--json"] + (["--instance", str(instance)] if instance is not None else [])
    return _run_json(arguments + _common_arguments(config, lock_dir))


def _end_lease(process: subprocess.Popen) -> None:
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()


class Lease:
    """One port, held until release() (or the end of the ``with`` block, or of this process)."""

    def __init__(self, process: subprocess.Popen, line: dict, listening: Optional[socket.socket]):
        self.port: int = line["port"]
        self.service: str = line["service"]
        #: The socket types the port is held for: ``"tcp"``, ``"udp"`` or ``"both"``.
        self.transport: str = line.get("transport", "tcp")
        self.instance: int = line["instance"]
        self.instance_id: str = line["instance_id"]
        self.lock_dir: str = line["lock_dir"]
        #: The socket already bound and listening on the port (``acquire(..., listen=True)``), else None.
        self.socket: Optional[socket.socket] = listening
        self._process = process
        self._finalizer = weakref.finalize(self, _end_lease, process)

    @property
    def pid(self) -> int:
        """The pid of the ``portpool lease`` process that holds the port."""
        return self._process.pid

    @property
    def held(self) -> bool:
        return self._process.poll() is None

    def release(self) -> None:
        """Gives the port back; returns once it is free for others."""
        if self.socket is not None:
            self.socket.close()
        self._finalizer()
        self._process.wait()
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exception) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<portpool.Lease {self.service} port {self.port} instance {self.instance}>"


def _receive_listening_socket(path: str) -> socket.socket:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect(path)
        _, descriptors, _, _ = socket.recv_fds(client, 64, 1)
    if not descriptors:
        raise SystemFailureError(f"portpool lease sent no listening socket through {path}")
    return socket.socket(fileno=descriptors[0])


def acquire(
    service: str,
    *,
    instance: Instance = None,
    config: Optional[str] = None,
    lock_dir: Optional[str] = None,
    listen: bool = False,
    wait: Optional[float] = None,
) -> Lease:
    """Takes a port of ``service``'s pool and holds it until ``release()`` or the end of this process.

    ``instance``: a number (default 1), ``"auto"`` (the lowest free instance, held with the port),
    ``"from-env"`` (the test runner's worker) or ``"from-env=VAR"``. With ``listen=True`` the
    port comes already bound and listening on 127.0.0.1, as ``lease.socket``: nothing can take it
    between the check and your server's start. ``wait``: when the pool is exhausted, how many
    seconds to wait for one of its ports to be released (default: none).
    Raises PoolExhaustedError (with ``refusals`` and ``holders``; after ``wait`` ran out too),
    UsageError, ConfigError, LockDirError, SystemFailureError.
    """
    arguments = ["lease", "--json", "--parent-pid", str(os.getpid())]
    if instance is not None:
        arguments += ["--instance", str(instance)]
    arguments += _wait_arguments(wait)
    arguments += _common_arguments(config, lock_dir)
    socket_directory = tempfile.mkdtemp(prefix="portpool-") if listen else None
    socket_path = os.path.join(socket_directory, "lease.sock") if socket_directory else None
    if socket_path:
        arguments += ["--socket-path", socket_path]
    try:
        return _start_lease(arguments + [service], socket_path)
    finally:
        if socket_directory:
            shutil.rmtree(socket_directory, ignore_errors=True)  # the socket is no longer needed


def _wait_arguments(wait: Optional[float]) -> List[str]:
    if wait is None:
        return []
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not 0 <= wait < 10**9:
        raise UsageError(f"wait is {wait!r}: give a number of seconds (0 or more), or None for no wait", EXIT_USAGE)
    milliseconds = int(wait * 1000)
    return ["--wait", f"{milliseconds}ms"] if milliseconds > 0 else []


def _start_lease(arguments: List[str], socket_path: Optional[str]) -> Lease:
    try:
        process = subprocess.Popen(
            [find_command(), *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as error:
        raise SystemFailureError(f"cannot run portpool: {error}") from error
    line = process.stdout.readline()
    report = json.loads(line) if line else None
    if report is not None:
        try:
            _checked_format(report)
        except SystemFailureError:
            _end_lease(process)
            process.wait()
            for stream in (process.stdin, process.stdout, process.stderr):
                stream.close()
            raise
    if report is None or "error" in report:
        # The refusals come from `lease --json`'s report of the failed call itself.
        stderr = process.stderr.read()
        exit_code = process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()
        refusals = _refusals_from(report) if report is not None and exit_code == EXIT_POOL_EXHAUSTED else []
        raise _error(stderr, exit_code, refusals)
    listening = None
    try:
        listening = _receive_listening_socket(socket_path) if socket_path else None
    except BaseException:
        _end_lease(process)
        process.wait()
        raise
    return Lease(process, report, listening)
