"""The code blocks of README.md and docs/bindings.md, extracted and run as a reader would run them.

Every fenced block is either run here (C++ compiled and run, `portpool run` lines started and
asked for an answer on their port, the Node.js and Python forms run against the packages of this
tree) or listed in NOT_RUN_HERE with the place that runs it, so a new snippet cannot go untested
unnoticed. The snippets name services of the example table; they run against a table with the same
service names on ports free now, in a lock directory of their own.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))
from support import free_block, free_ports  # noqa: E402

SOURCE = Path(os.environ["PORTPOOL_SOURCE_DIR"])
PAGES = ["README.md", "docs/bindings.md"]
BOUND = 60  # seconds: a generous bound on every wait

NOT_RUN_HERE = {
    "bash scripts/demo.sh": "the demo: a Release build of its own, then the API gateway, which tests/gateway runs",
    "bash scripts/test.sh": "the test command itself: what CI runs",
    "find_package(portpool CONFIG REQUIRED)": "built by the package consumer projects (tests/package_consumer)",
}


def blocks():
    """(page, line, language, text) of every fenced block of the pages."""
    found = []
    for page in PAGES:
        lines = (SOURCE / page).read_text().splitlines()
        index = 0
        while index < len(lines):
            opening = re.match(r"^```(\w*)\s*$", lines[index])
            if opening:
                end = lines.index("```", index + 1)
                found.append((page, index + 1, opening.group(1), "\n".join(lines[index + 1 : end])))
                index = end
            index += 1
    return found


def not_run_here(text):
    return next((reason for start, reason in NOT_RUN_HERE.items() if text.strip().startswith(start)), None)


def runnable(language):
    return [
        pytest.param(text, id=f"{page}:{line}")
        for page, line, block_language, text in blocks()
        if block_language == language and not not_run_here(text)
    ]


@pytest.fixture
def space(tmp_path):
    """A table with the example table's service names on ports free now, a lock directory, and
    `portpool` on PATH."""
    api_ports = free_ports(5)
    instance_base = free_block(30, 10)
    config = tmp_path / "portpool.toml"
    config.write_text(
        f"[instances]\nbase = {instance_base}\nstride = 10\nmax = 3\n\n"
        "[services.mcp-universal]\noffset = 0\nsize = 3\n\n"
        f"[services.api-server]\nports = {api_ports[:3]}\n\n"
        f"[services.dns]\nports = [{api_ports[3]}]\n\n"
        f"[services.web]\nports = [{api_ports[4]}]\n"
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "portpool").symlink_to(os.environ["PORTPOOL_BIN"])
    environment = dict(os.environ)
    environment.update(
        PORTPOOL_CONFIG=str(config),
        PORTPOOL_LOCK_DIR=str(tmp_path / "locks"),
        PATH=f"{bin_dir}:{environment['PATH']}:/usr/sbin:/sbin",
    )
    return {"dir": tmp_path, "environment": environment}


def test_every_block_is_run_or_says_where_it_is():
    handled = {"cpp", "sh", "js", "python", "cmake"}
    for page, line, language, text in blocks():
        assert language in handled, f"{page}:{line}: a block in '{language or 'no language'}' that no test runs"
        if language == "cmake":
            assert not_run_here(text), f"{page}:{line}: a CMake block that no test builds"
        if language == "sh":
            assert not_run_here(text) or text.startswith("portpool run "), f"{page}:{line}: a command no test runs"


@pytest.mark.parametrize("text", runnable("cpp"))
def test_cpp(text, space):
    includes = [line for line in text.splitlines() if line.startswith("#include")]
    body = [line for line in text.splitlines() if not line.startswith("#include")]
    program = space["dir"] / "snippet.cpp"
    program.write_text("\n".join(includes) + "\nint main() {\n" + "\n".join(body) + "\n}\n")
    compiler = os.environ.get("CXX") or "c++"
    built = subprocess.run(
        [compiler, "-std=c++17", f"-I{SOURCE / 'include'}", str(program), "-o", str(space["dir"] / "snippet"), "-lfmt"],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    ran = subprocess.run([str(space["dir"] / "snippet")], env=space["environment"], capture_output=True, text=True)
    if ran.returncode != 0 and "PoolExhausted" in ran.stderr:
        pytest.skip(f"the snippet's fixed ports are all in use on this machine: {ran.stderr.strip()}")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == ""


def port_of(environment):
    listed = subprocess.run(["portpool", "status", "--json"], env=environment, capture_output=True, text=True)
    holders = __import__("json").loads(listed.stdout)["holders"] if listed.returncode == 0 else []
    return holders[0]["port"] if holders else None


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("text", runnable("sh"))
def test_portpool_run_line(text, space):
    program = text.split(" -- ", 1)[1].split()[0]
    if not shutil.which(program, path=space["environment"]["PATH"]):
        pytest.skip(f"{program} is not installed (scripts/install-deps.sh installs it)")
    run = subprocess.Popen(["bash", "-c", f"exec {text}"], env=space["environment"], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + BOUND
        port = None
        while time.monotonic() < deadline and run.poll() is None:
            port = port_of(space["environment"])
            if port is not None and accepts(port):
                break
            time.sleep(0.05)
        assert run.poll() is None, f"`{text}` ended with status {run.returncode}: {run.stderr.read()}"
        assert port is not None and accepts(port), f"`{text}` never answered on its port"
        if "http.server" in text:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=BOUND) as answer:
                assert answer.status == 200
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGTERM)
        run.wait(timeout=BOUND)
    assert port_of(space["environment"]) is None


@pytest.mark.parametrize("text", runnable("js"))
def test_node(text, space):
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    project = space["dir"] / "project"
    (project / "node_modules").mkdir(parents=True)
    (project / "node_modules" / "portpool").symlink_to(SOURCE / "bindings" / "node")
    script = project / "snippet.mjs"
    script.write_text(
        "import http from 'node:http';\n"
        "const server = http.createServer((request, response) => response.end('ok'));\n"
        + text
        + "\nserver.close();\n"
    )
    ran = subprocess.run(["node", str(script)], cwd=project, env=space["environment"], capture_output=True, text=True,
                         timeout=BOUND)
    assert ran.returncode == 0, ran.stderr


@pytest.mark.parametrize("text", runnable("python"))
def test_python(text, space):
    script = space["dir"] / "snippet.py"
    script.write_text(
        "import pytest\nserved = []\ndef serve(port):\n    served.append(port)\n\n" + text + "\n\nassert served\n"
    )
    environment = dict(space["environment"], PYTHONPATH=str(SOURCE / "bindings" / "python"))
    ran = subprocess.run([sys.executable, str(script)], env=environment, capture_output=True, text=True, timeout=BOUND)
    assert ran.returncode == 0, ran.stderr
