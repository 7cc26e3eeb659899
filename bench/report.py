"""Turns the raw results of bench/compare-peers.sh into markdown tables (stdout) and plots.

    python3 report.py RESULTS_DIR IMAGE_DIR

Reads acquire-tmp.json and acquire-shm.json (Google Benchmark), syscalls-MODE-COUNT.txt (strace -c
of cycle_syscalls), race.csv (contention_race and peers/race.py), peers-time.jsonl and, when present,
shield.json; writes IMAGE_DIR/bench-pool-size.png and IMAGE_DIR/bench-contention.png.
"""

import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RANGE_TOOLS = {"portpool", "get-port", "portfinder"}
TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
FLOOR = "Floor/LockAndListen"
ACQUIRE_RELEASE = "AcquireRelease/BindProbe"
UDP_FLOOR = "Floor/LockAndBindUdp"
UDP_RATIO_TARGET = 1.5
FLOOR_RATIO_TARGET = 1.5
EXHAUSTED_TARGET_MS = 20.0
HOLDERS_TARGET_MS = 5.0
# What each mode of cycle_syscalls repeats, and how many units (cycles, refused ports) one repetition is.
SYSCALL_MODES = (("floor", "the floor: lock and unlock a file, listen on [::]:P", 1),
                 ("acquire-release", "`acquire()` + `release()` with the bind probe", 1),
                 ("exhausted", "`try_acquire()` on an exhausted pool, per refused port", 100))


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def load_benchmarks(path):
    """{name: entry}: the median of the repetitions when the benchmark was repeated, else its one run."""
    if not path.exists():
        return {}
    entries = json.loads(path.read_text())["benchmarks"]
    medians = {unrepeated(entry["run_name"]): entry for entry in entries if entry.get("aggregate_name") == "median"}
    runs = {entry["name"]: entry for entry in entries if entry.get("run_type", "iteration") == "iteration"}
    return {**runs, **medians}


def unrepeated(name):
    """The benchmark's name without the "/repeats:N" that Google Benchmark appends to repeated ones."""
    return re.sub(r"/repeats:\d+$", "", name)


def nanoseconds(entry, clock="real_time"):
    return entry[clock] * TO_NS[entry["time_unit"]]


def cpu_nanoseconds(entry):
    return nanoseconds(entry, "cpu_time")


def microseconds(value_ns):
    return f"{value_ns / 1e3:,.1f} µs"


def acquisition_table(benchmarks_by_fs):
    pairs = [
        ("Floor/LockFile", None),
        ("Floor/ListenSocket", None),
        (FLOOR, None),
        (ACQUIRE_RELEASE, FLOOR),
        ("AcquireRelease/NoProbe", "Floor/LockFile"),
        ("AcquireListening", FLOOR),
        ("Floor/BindUdpSocket", None),
        (UDP_FLOOR, None),
        ("AcquireRelease/Udp", UDP_FLOOR),
        ("AcquireDatagram", UDP_FLOOR),
    ]
    lines = ["| benchmark | " + " | ".join(f"lock dir on {fs}" for fs in benchmarks_by_fs) + " |",
             "|---|" + "---|" * len(benchmarks_by_fs)]
    for name, floor in pairs:
        cells = []
        for benchmarks in benchmarks_by_fs.values():
            if name not in benchmarks:
                cells.append("-")
                continue
            cell = f"{microseconds(nanoseconds(benchmarks[name]))} (cpu {microseconds(cpu_nanoseconds(benchmarks[name]))})"
            if floor in benchmarks:
                wall_ratio = nanoseconds(benchmarks[name]) / nanoseconds(benchmarks[floor])
                cpu_ratio = cpu_nanoseconds(benchmarks[name]) / cpu_nanoseconds(benchmarks[floor])
                cell += f": {wall_ratio:.2f}x (cpu {cpu_ratio:.2f}x) `{floor}`"
            cells.append(cell)
        label = {FLOOR: f"`{name}` (the floor)", UDP_FLOOR: f"`{name}` (the UDP floor)"}.get(name, f"`{name}`")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(met):
    return "**yes**" if met else "**no**"


def targets_table(benchmarks_by_fs, peers):
    """One line per target of the issue, per file system: the figure, and whether it is met (wall time)."""
    lines = ["| target | file system | measured (wall; cpu) | met? |", "|---|---|---|---|"]
    for fs, benchmarks in benchmarks_by_fs.items():
        if ACQUIRE_RELEASE in benchmarks and FLOOR in benchmarks:
            wall = nanoseconds(benchmarks[ACQUIRE_RELEASE]) / nanoseconds(benchmarks[FLOOR])
            cpu = cpu_nanoseconds(benchmarks[ACQUIRE_RELEASE]) / cpu_nanoseconds(benchmarks[FLOOR])
            lines.append(f"| acquire+release / floor <= {FLOOR_RATIO_TARGET} | {fs} | {wall:.2f}x; {cpu:.2f}x | "
                         f"{verdict(wall <= FLOOR_RATIO_TARGET)} |")
        if "AcquireRelease/Udp" in benchmarks and UDP_FLOOR in benchmarks:
            wall = nanoseconds(benchmarks["AcquireRelease/Udp"]) / nanoseconds(benchmarks[UDP_FLOOR])
            cpu = cpu_nanoseconds(benchmarks["AcquireRelease/Udp"]) / cpu_nanoseconds(benchmarks[UDP_FLOOR])
            lines.append(f"| UDP acquire+release / UDP floor <= {UDP_RATIO_TARGET} | {fs} | {wall:.2f}x; {cpu:.2f}x | "
                         f"{verdict(wall <= UDP_RATIO_TARGET)} |")
        for peer in peers:
            if peer["tool"] in ("portpicker", "ephemeral-port-reserve") and ACQUIRE_RELEASE in benchmarks:
                mine = nanoseconds(benchmarks[ACQUIRE_RELEASE]) / 1e3
                lines.append(f"| faster per acquisition than {peer['tool']} | {fs} | {mine:,.1f} µs against "
                             f"{peer['mean_us']:,.1f} µs ({peer['mean_us'] / mine:.1f}x) | "
                             f"{verdict(mine < peer['mean_us'])} |")
        exhausted = benchmarks.get("TryAcquireExhausted/10000")
        if exhausted:
            wall, cpu = nanoseconds(exhausted) / 1e6, cpu_nanoseconds(exhausted) / 1e6
            lines.append(f"| exhausted pool of 10,000 ports < {EXHAUSTED_TARGET_MS:.0f} ms | {fs} | "
                         f"{wall:.1f} ms; {cpu:.1f} ms | {verdict(wall < EXHAUSTED_TARGET_MS)} |")
        holders = benchmarks.get("RegistryHolders/1000")
        if holders:
            wall, cpu = nanoseconds(holders) / 1e6, cpu_nanoseconds(holders) / 1e6
            lines.append(f"| `Registry::holders()`, 1,000 live holders < {HOLDERS_TARGET_MS:.0f} ms | {fs} | "
                         f"{wall:.2f} ms; {cpu:.2f} ms | {verdict(wall < HOLDERS_TARGET_MS)} |")
    return "\n".join(lines)


def strace_calls(path):
    """System call counts from the summary of `strace -c`: {name: calls}."""
    calls = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3])
    return calls


def syscall_table(results):
    lines = ["| what is repeated | system calls each time | which |", "|---|---|---|"]
    for mode, description, units in SYSCALL_MODES:
        runs = sorted(results.glob(f"syscalls-{mode}-*.txt"), key=lambda path: int(path.stem.rsplit("-", 1)[1]))
        if len(runs) < 2:
            continue
        repetitions = int(runs[-1].stem.rsplit("-", 1)[1]) * units
        baseline, measured = strace_calls(runs[0]), strace_calls(runs[-1])
        each = {name: (count - baseline.get(name, 0)) / repetitions for name, count in measured.items()}
        # A few calls of the set-up may differ between the two runs: a tenth of a call is the resolution.
        each = {name: round(value, 1) for name, value in each.items() if round(value, 1) > 0}
        which = ", ".join(f"{name} {value:g}" for name, value in sorted(each.items(), key=lambda item: (-item[1], item[0])))
        lines.append(f"| {description} | {round(sum(each.values()), 1):g} | {which} |")
    return "\n".join(lines)


def exhausted_points(benchmarks, clock="real_time"):
    points = []
    for name, entry in benchmarks.items():
        if name.startswith("TryAcquireExhausted/"):
            points.append((int(entry["pool_size"]), nanoseconds(entry, clock)))
    return sorted(points)


def exhausted_table(benchmarks_by_fs):
    sizes = sorted({size for b in benchmarks_by_fs.values() for size, _ in exhausted_points(b)})
    lines = ["| pool size (all held by another process) | " +
             " | ".join(f"{fs}: wall / cpu / cpu per port" for fs in benchmarks_by_fs) + " |",
             "|---|" + "---|" * len(benchmarks_by_fs)]
    for size in sizes:
        cells = []
        for benchmarks in benchmarks_by_fs.values():
            wall = dict(exhausted_points(benchmarks))
            cpu = dict(exhausted_points(benchmarks, "cpu_time"))
            cells.append(f"{wall[size] / 1e6:.3f} ms / {cpu[size] / 1e6:.3f} ms / {cpu[size] / size / 1e3:.2f} µs"
                         if size in wall else "-")
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    for name in ("Floor/Exhausted10000/Reopen", "Floor/Exhausted10000/KeptOpen"):
        cells = [f"{nanoseconds(b[name]) / 1e6:.3f} ms / {cpu_nanoseconds(b[name]) / 1e6:.3f} ms / "
                 f"{cpu_nanoseconds(b[name]) / 1e4 / 1e3:.2f} µs" if name in b else "-"
                 for b in benchmarks_by_fs.values()]
        lines.append(f"| floor: `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def registry_table(benchmarks_by_fs):
    lines = ["| holders | " + " | ".join(benchmarks_by_fs) + " |", "|---|" + "---|" * len(benchmarks_by_fs)]
    for count in (10, 1000):
        cells = []
        for benchmarks in benchmarks_by_fs.values():
            entry = benchmarks.get(f"RegistryHolders/{count}")
            cells.append(f"{nanoseconds(entry) / 1e6:.3f} ms (cpu {cpu_nanoseconds(entry) / 1e6:.3f} ms)"
                         if entry else "-")
        lines.append(f"| {count:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def peers_table(peers, benchmarks_by_fs):
    reference = {fs: nanoseconds(b[ACQUIRE_RELEASE]) / 1e3 for fs, b in benchmarks_by_fs.items() if ACQUIRE_RELEASE in b}
    lines = ["| tool | range | mean | p50 | p99 | answers outside the range | mean / portpool's (" +
             ", ".join(reference) + ") |", "|---|---|---|---|---|---|---|"]
    for fs, value in reference.items():
        lines.append(f"| portpool `acquire()`+`release()` with bind probe, lock dir on {fs} | yes | {value:,.1f} µs "
                     "| | | 0 | 1 |")
    for peer in peers:
        ratio = ", ".join(f"{peer['mean_us'] / value:,.1f}x" for value in reference.values())
        has_range = "yes" if peer["tool"] in RANGE_TOOLS else "no (any port)"
        lines.append(f"| {peer['tool']} | {has_range} | {peer['mean_us']:,.1f} µs | {peer['p50_us']:,.1f} µs | "
                     f"{peer['p99_us']:,.1f} µs | {peer['outside_range']} of {peer['iterations']} | {ratio} |")
    return "\n".join(lines)


def load_race(path):
    rounds = defaultdict(list)
    with path.open(encoding="utf-8") as source:
        for row in csv.DictReader(source):
            rounds[(row["tool"], int(row["processes"]), int(row["round"]))].append(row)
    return rounds


def race_statistics(rounds):
    statistics = defaultdict(lambda: defaultdict(list))
    for (tool, processes, _), rows in rounds.items():
        figures = statistics[(tool, processes)]
        ports = defaultdict(int)
        for row in rows:
            port = int(row["port"])
            if port:
                ports[port] += 1
                if not int(row["range_first"]) <= port <= int(row["range_last"]):
                    figures["outside"].append(1)
            if row["listen"] == "failed":
                figures["listen_failed"].append(1)
            if row["listen"] == "lost":
                figures["lost"].append(1)
            if row["latency_us"]:
                figures["latency_us"].append(float(row["latency_us"]))
        figures["doubles"].append(sum(count - 1 for count in ports.values()))
        figures["total_ms"].append(max(float(row["since_start_us"] or 0) for row in rows) / 1e3)
        figures["processes_seen"].append(len(rows))
    return statistics


def race_table(statistics):
    lines = ["| tool | K | pool / range | rounds | double assignments | listen failed (EADDRINUSE) | outside the range | "
             "per-process latency p50 / p99 | race total p50 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (tool, processes), figures in sorted(statistics.items(), key=lambda item: (item[0][0] != "portpool", item[0])):
        outside = str(len(figures["outside"])) if tool in RANGE_TOOLS else f"n/a ({len(figures['outside'])}: any port)"
        total = sum(figures["processes_seen"])
        lines.append(
            f"| {tool} | {processes} | {max(1, processes // 2)} | {len(figures['total_ms'])} | "
            f"{sum(figures['doubles'])} of {total} | {len(figures['listen_failed'])} | {outside} | "
            f"{percentile(figures['latency_us'], 0.5) / 1e3:.2f} / {percentile(figures['latency_us'], 0.99) / 1e3:.2f} ms"
            f" | {percentile(figures['total_ms'], 0.5):.1f} ms |")
    return "\n".join(lines)


def shield_table(shield):
    lines = ["| benchmark | result |", "|---|---|"]
    for name, entry in shield.items():
        if "cpu_pct" in entry:
            lines.append(f"| `{name}` | {entry['cpu_pct']:.3f}% of one core |")
        elif "p99_ms" in entry:
            lines.append(f"| `{name}` | p50 {entry['p50_ms']:.3f} ms, p90 {entry['p90_ms']:.3f} ms, "
                         f"p99 {entry['p99_ms']:.3f} ms, worst {entry['worst_ms']:.3f} ms "
                         f"({entry['iterations']:,} events) |")
    return "\n".join(lines)


def plot_pool_size(benchmarks_by_fs, image):
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    for fs, benchmarks in benchmarks_by_fs.items():
        for clock, style in (("real_time", "o-"), ("cpu_time", "s--")):
            points = exhausted_points(benchmarks, clock)
            if points:
                axes.loglog([size for size, _ in points], [value / 1e6 for _, value in points], style,
                            label=f"{fs}, {clock.replace('_', ' ')}")
    axes.axhline(20, color="grey", linestyle="--", label="target: 20 ms at 10,000 ports")
    axes.set_xlabel("pool size (ports, all held by another process)")
    axes.set_ylabel("time per call (ms)")
    axes.set_title("portpool: try_acquire() on an exhausted pool")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(image)


def plot_contention(statistics, image):
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=100)
    tools = sorted({tool for tool, _ in statistics}, key=lambda tool: (tool != "portpool", tool))
    for tool in tools:
        counts = sorted(processes for name, processes in statistics if name == tool)
        label = tool if tool in RANGE_TOOLS else f"{tool} (any port: no range)"
        left.loglog(counts, [percentile(statistics[(tool, k)]["total_ms"], 0.5) for k in counts], "o-", label=label)
        right.plot(counts, [100.0 * (sum(statistics[(tool, k)]["doubles"]) + len(statistics[(tool, k)]["outside"])
                                     * (tool in RANGE_TOOLS)) / max(1, sum(statistics[(tool, k)]["processes_seen"]))
                            for k in counts], "o-", label=label)
    left.set_xlabel("K processes racing for K/2 ports")
    left.set_ylabel("race total, p50 over rounds (ms)")
    left.set_title("time until every process has its answer")
    right.set_xscale("log")
    right.set_xlabel("K processes racing for K/2 ports")
    right.set_ylabel("% of processes given a taken or out-of-range port")
    right.set_title("wrong answers (portpool: none)")
    for axes in (left, right):
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(image)


def main():
    results, images = Path(sys.argv[1]), Path(sys.argv[2])
    benchmarks_by_fs = {fs: load_benchmarks(results / f"acquire-{key}.json")
                        for fs, key in (("/tmp (ext4)", "tmp"), ("/dev/shm (tmpfs)", "shm"))}
    benchmarks_by_fs = {fs: b for fs, b in benchmarks_by_fs.items() if b}
    peers = [json.loads(line) for line in (results / "peers-time.jsonl").read_text().splitlines() if line.strip()]
    statistics = race_statistics(load_race(results / "race.csv"))
    print("## Machine\n\n```\n" + (results / "machine.txt").read_text() + "```\n")
    print("## Targets\n\n" + targets_table(benchmarks_by_fs, peers) + "\n")
    print("## Acquisition against the floor\n\n" + acquisition_table(benchmarks_by_fs) + "\n")
    print("## System calls (strace -c)\n\n" + syscall_table(results) + "\n")
    print("## Exhausted pool\n\n" + exhausted_table(benchmarks_by_fs) + "\n")
    print("## Registry::holders()\n\n" + registry_table(benchmarks_by_fs) + "\n")
    print("## Peers, one acquisition in a long-lived process\n\n" + peers_table(peers, benchmarks_by_fs) + "\n")
    print("## Contention race\n\n" + race_table(statistics) + "\n")
    shield = load_benchmarks(results / "shield.json")
    if shield:
        print("## Shield\n\n" + shield_table(shield) + "\n")
    plot_pool_size(benchmarks_by_fs, images / "bench-pool-size.png")
    plot_contention(statistics, images / "bench-contention.png")


main()
