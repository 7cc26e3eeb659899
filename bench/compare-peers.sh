#!/usr/bin/env bash
# Measures portpool and its peers in one run, writes the raw results and the plots.
#
#   bench/compare-peers.sh [BUILD_DIR]          (default build/perf, configured Release if new)
#
# Peers, installed when missing: get-port and portfinder (npm, pinned by bench/peers/package-lock.json,
# into BUILD_DIR/peers),
# portpicker and ephemeral-port-reserve (Debian packages); matplotlib (Debian) draws the plots and
# strace (Debian) counts the system calls of one acquisition.
# Raw results go to BUILD_DIR/results; plots to docs/img; the tables to BUILD_DIR/results/summary.md.
# Environment: ROUNDS (portpool's race rounds per K, default 10), PEER_ROUNDS (the peers' race rounds per K,
# default 5: starting 128 interpreters per round is slow), PEER_ITERATIONS (default 300),
# SKIP_SHIELD=1 to leave out the shield benchmarks (about 2 minutes).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$root/build/perf}")
results=$build/results
rounds=${ROUNDS:-10}
peer_rounds=${PEER_ROUNDS:-5}
peer_iterations=${PEER_ITERATIONS:-300}
python=/usr/bin/python3  # the distribution's, where the Debian peers are installed

install_missing_peers() {
  local missing=()
  for package in python3-portpicker python3-ephemeral-port-reserve python3-matplotlib strace; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  if ((${#missing[@]})); then
    apt-get install -y -q "${missing[@]}"
  fi
  if [[ ! -d $build/peers/node_modules ]] || ! cmp -s "$root/bench/peers/package-lock.json" "$build/peers/package-lock.json"; then
    mkdir -p "$build/peers"
    cp "$root/bench/peers/package.json" "$root/bench/peers/package-lock.json" "$build/peers/"
    npm ci --prefix "$build/peers" --no-audit --no-fund
  fi
}

npm_version() {
  node -p "require('$build/peers/node_modules/$1/package.json').version"
}

build_benchmarks() {
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DPORTPOOL_BUILD_EXAMPLES=OFF -DPORTPOOL_BUILD_TOOLS=OFF
  fi
  cmake --build "$build" --target acquire_bench cycle_syscalls contention_race shield_idle -j2
}

describe_machine() {
  {
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "kernel: $(uname -srm)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') ($(nproc) cores)"
    echo "memory: $(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "lock directory file systems: /tmp $(df --output=fstype /tmp | tail -1), /dev/shm $(df --output=fstype /dev/shm | tail -1)"
    echo "compiler: $(c++ --version | head -1)"
    echo "node: $(node --version), python: $($python --version 2>&1)"
    echo "get-port $(npm_version get-port), portfinder $(npm_version portfinder)," \
      "portpicker $(dpkg-query -W -f '${Version}' python3-portpicker)," \
      "ephemeral-port-reserve $(dpkg-query -W -f '${Version}' python3-ephemeral-port-reserve)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$results/machine.txt"
}

# The calls of one repetition are those of a run with 1000 repetitions less those of a run with none.
count_syscalls() {
  local bin=$build/bench
  for mode in floor acquire-release exhausted; do
    for count in 0 1000; do
      strace -f -c -o "$results/syscalls-$mode-$count.txt" "$bin/cycle_syscalls" "$mode" "$count"
    done
  done
}

# The repeated benchmarks (the floors, one acquisition) are reported by their medians, and their
# repetitions are interleaved in random order, so that the floor and portpool meet the same bursts of
# load (the machine may be shared) instead of running at two different moments.
run_portpool() {
  local bin=$build/bench
  local json=(--benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
    --benchmark_out_format=json)
  TMPDIR=/tmp "$bin/acquire_bench" "${json[@]}" --benchmark_out="$results/acquire-tmp.json"
  TMPDIR=/dev/shm "$bin/acquire_bench" "${json[@]}" --benchmark_out="$results/acquire-shm.json"
  count_syscalls
  "$bin/contention_race" --rounds "$rounds" --csv "$results/race.csv" | tee "$results/race-portpool.txt"
  if [[ ${SKIP_SHIELD:-0} != 1 ]]; then
    "$bin/shield_idle" --benchmark_out="$results/shield.json" --benchmark_out_format=json
  fi
}

run_peers() {
  export PEER_MODULES=$build/peers
  local peers=$root/bench/peers
  local first=27000 last=27002
  : >"$results/peers-time.jsonl"
  for tool in get-port portfinder; do
    node "$peers/peer.mjs" time "$tool" "$first" "$last" "$peer_iterations" >>"$results/peers-time.jsonl"
    $python "$peers/race.py" --tool "$tool" --rounds "$peer_rounds" --csv "$results/race.csv" -- \
      node "$peers/peer.mjs" race "$tool"
  done
  for tool in portpicker ephemeral-port-reserve; do
    $python "$peers/peer.py" time "$tool" "$first" "$last" "$peer_iterations" >>"$results/peers-time.jsonl"
    $python "$peers/race.py" --tool "$tool" --rounds "$peer_rounds" --csv "$results/race.csv" -- \
      $python "$peers/peer.py" race "$tool"
  done
}

install_missing_peers
build_benchmarks
rm -rf "$results"  # nothing of an earlier run may end up in this one's report
mkdir -p "$results" "$root/docs/img"
describe_machine
run_portpool
run_peers
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$results/machine.txt"
$python "$root/bench/report.py" "$results" "$root/docs/img" | tee "$results/summary.md"
