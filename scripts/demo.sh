#!/usr/bin/env bash
# Installs the dependencies, builds portpool, and runs the demo: the example application's API gateway,
# started several times through portpool on the api-server pool 9000-9002.
#
# Idempotent, and it leaves nothing running or held, even when interrupted: every gateway it
# starts is stopped on exit, and its lock directory is a fresh temporary one.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DPORTPOOL_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" >/dev/null

gateway=build/demo/examples/api_gateway/api_gateway
portpool=build/demo/tools/portpool
work_dir=$(mktemp -d "${TMPDIR:-/tmp}/portpool-demo-XXXXXX")
export PORTPOOL_LOCK_DIR="$work_dir/locks"
gateway_pids=()

stop_everything() {
  local pid
  for pid in "${gateway_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${gateway_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work_dir"
}
trap stop_everything EXIT
trap 'exit 130' INT TERM

forget_pid() {
  local kept=() pid
  for pid in "${gateway_pids[@]}"; do
    [[ $pid == "$1" ]] || kept+=("$pid")
  done
  gateway_pids=("${kept[@]}")
}

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The value of a number field in a gateway's start event, e.g. start_field 1 port.
start_field() { grep -o "\"event\":\"start\".*" "$work_dir/gateway-$1.log" | grep -o "\"$2\":[0-9]*" | head -1 | cut -d: -f2; }

# Starts gateway number $1 and waits until it serves (returns 0) or is refused (returns 1).
start_gateway() {
  local number=$1 log="$work_dir/gateway-$1.log"
  : >"$log"
  "$gateway" 2>"$log" &
  local pid=$!
  for _ in $(seq 100); do
    if grep -q '"event":"start"' "$log"; then
      gateway_pids+=("$pid")
      printf 'gateway %s: pid %s, instance %s, port %s\n' "$number" "$pid" "$(start_field "$number" instance)" \
        "$(start_field "$number" port)"
      grep -o '"event":"port_skipped".*"message":"[^"]*"' "$log" | sed 's/.*"message":"\(.*\)"/  (\1)/' || true
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      local status=0
      wait "$pid" || status=$?
      printf 'gateway %s was refused (exit code %s):\n' "$number" "$status"
      grep -v '^{' "$log" | sed 's/^/  /'  # the library's message, without the log lines
      return 1
    fi
    sleep 0.1
  done
  echo "gateway $number did not start within 10 seconds; its log:" && cat "$log" && exit 1
}

show_holders() {
  if [[ -x $portpool ]]; then
    echo "\$ portpool status"
    "$portpool" status
  else
    echo "\$ curl http://127.0.0.1:$1/api/services"
    curl -s "http://127.0.0.1:$1/api/services"
  fi
}

section "Three gateways take the api-server pool 9000-9002 (lock directory $PORTPOOL_LOCK_DIR)"
started=0
for number in 1 2 3; do
  if start_gateway "$number"; then
    started=$((started + 1))
  else
    echo "Only $started of the pool's ports are free on this machine: something else holds the others."
    break
  fi
done
if ((started == 0)); then
  echo "No port of 9000-9002 is free here: stop what listens on them and run the demo again."
  exit 1
fi
first_port=$(start_field 1 port)

if ((started == 3)); then
  section "A fourth gateway finds the pool exhausted and is refused"
  start_gateway 4 || true
fi

section "Who holds what"
show_holders "$first_port"

section "Aggregated health, from the gateway on port $first_port"
curl -s "http://127.0.0.1:$first_port/api/health/aggregated"

last=$started
section "Gateway $last (port $(start_field "$last" port)) is killed with SIGKILL; a new one takes its port at once"
killed=${gateway_pids[$((last - 1))]}
kill -KILL "$killed"
wait "$killed" 2>/dev/null || true
forget_pid "$killed"
start_gateway 5
curl -s "http://127.0.0.1:$(start_field 5 port)/api/health"

section "Everything stops (SIGTERM): each gateway finishes, releases its port and exits 0"
for pid in "${gateway_pids[@]}"; do
  kill -TERM "$pid" 2>/dev/null || true
done
for pid in "${gateway_pids[@]}"; do
  if wait "$pid"; then echo "pid $pid exited with 0"; else echo "pid $pid exited with $?"; fi
done
gateway_pids=()
show_holders "$first_port" 2>/dev/null || echo "(nothing answers on port $first_port any more)"
