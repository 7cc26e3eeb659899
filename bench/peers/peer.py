"""The Python peers doing portpool's job: portpicker and ephemeral-port-reserve (Debian packages).

    python3 peer.py time TOOL FIRST LAST ITERATIONS   one JSON line: time per acquisition
    python3 peer.py race TOOL FIRST LAST              the race protocol of race.py

Neither tool takes a range: both return any free port, so FIRST and LAST only count how many
answers fall outside the range.
"""

import json
import socket
import sys
import time


def acquirer(tool):
    if tool == "portpicker":
        import portpicker

        return portpicker.pick_unused_port
    if tool == "ephemeral-port-reserve":
        import ephemeral_port_reserve

        return lambda: ephemeral_port_reserve.reserve("127.0.0.1")
    raise ValueError(f"unknown tool {tool}")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure(tool, first, last, iterations):
    acquire = acquirer(tool)
    acquire()
    micros = []
    outside = 0
    for _ in range(iterations):
        started = time.perf_counter_ns()
        port = acquire()
        micros.append((time.perf_counter_ns() - started) / 1e3)
        outside += not first <= port <= last
    print(json.dumps({
        "tool": tool, "iterations": iterations, "mean_us": sum(micros) / len(micros),
        "p50_us": percentile(micros, 0.5), "p99_us": percentile(micros, 0.99),
        "outside_range": outside, "range_first": first, "range_last": last,
    }))


def listen(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("127.0.0.1", port))
        server.listen()
        return server, "ok"
    except OSError:
        server.close()
        return None, "failed"


def race(tool):
    acquire = acquirer(tool)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while sys.stdin.buffer.read(64):
        pass
    woke = time.monotonic_ns()
    port = acquire() or 0
    server, listened = listen(port) if port else (None, "none")
    done = time.monotonic_ns()
    sys.stdout.write(f"{port} {(done - woke) / 1e3} {done} {listened}\n")
    sys.stdout.flush()
    time.sleep(120)  # held until race.py ends it
    del server


def main():
    mode, tool, first, last = sys.argv[1:5]
    if mode == "time":
        measure(tool, int(first), int(last), int(sys.argv[5]))
    else:
        race(tool)


main()
