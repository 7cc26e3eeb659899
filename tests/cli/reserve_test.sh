#!/bin/sh
# `portpool reserve`, run for real in a private network namespace: net.ipv4.ip_local_port_range and
# ip_local_reserved_ports belong to the namespace, so the machine's own settings are never touched.
# Needs root (unshare -n); where that is not permitted it prints "SKIPPED: <reason>" and exits 77,
# which ctest reports as skipped (SKIP_RETURN_CODE, and the "SKIPPED: " line every skip prints).
#
# usage: reserve_test.sh PORTPOOL [--in-namespace WORK_DIR]; PORTPOOL_TEST_CLI, when set, is the
# portpool tested instead (a sanitizer build's, as for the other tests of the command).
set -eu

portpool=${PORTPOOL_TEST_CLI:-$1}

if [ "${2:-}" != --in-namespace ]; then
  if ! unshare -n true 2>/dev/null; then
    echo "SKIPPED: creating a network namespace (unshare -n) is not permitted here; run as root"
    exit 77
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  unshare -n /bin/sh "$0" "$portpool" --in-namespace "$work"
  exit $?
fi

work=$3
proc=/proc/sys/net/ipv4
failures=0

fail() {
  echo "FAILED: $*"
  failures=$((failures + 1))
}

expect_equal() {  # what, expected, actual
  [ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

json_field() {  # file, python expression over `data`
  /usr/bin/python3 -c 'import json, sys; data = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

echo "40000 49999" >"$proc/ip_local_port_range"
echo "41000,45000-45002" >"$proc/ip_local_reserved_ports"
cat >"$work/ports.toml" <<'TOML'
[instances]
base = 44000
stride = 10
max = 2

[services.inside]
offset = 0
size = 3

[services.shared]
ports = [45002, 45003]

[services.outside]
range = [30000, 30001]
TOML
config="$work/ports.toml"
chmod 755 "$work"  # the unprivileged run below reads the config
chmod 644 "$config"

# Listing: the ports of every instance inside the range, whether each pool is reserved.
"$portpool" reserve --config "$config" --json >"$work/list.json"
expect_equal "listed services" "['inside', 'shared']" "$(json_field "$work/list.json" '[s["name"] for s in data["services"]]')"
expect_equal "inside ports" "[44000, 44001, 44002, 44010, 44011, 44012]" \
  "$(json_field "$work/list.json" 'data["services"][0]["ports"]')"
expect_equal "inside reserved" "False" "$(json_field "$work/list.json" 'data["services"][0]["reserved"]')"
expect_equal "merged list" "41000,44000-44002,44010-44012,45000-45003" \
  "$(json_field "$work/list.json" 'data["reserved_ports"]')"
expect_equal "listing changes nothing" "41000,45000-45002" "$(cat "$proc/ip_local_reserved_ports")"
"$portpool" reserve --config "$config" >"$work/list.txt"
grep -q "portpool reserve --apply" "$work/list.txt" || fail "the text listing does not say how to reserve: $(cat "$work/list.txt")"

# Without root: refused with 77 and a message, nothing changed.
status=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$portpool" reserve --config "$config" --apply \
  >/dev/null 2>"$work/refused.err" || status=$?
expect_equal "exit code without root" 77 "$status"
grep -q "needs root" "$work/refused.err" || fail "no clear message without root: $(cat "$work/refused.err")"
expect_equal "a refused --apply changes nothing" "41000,45000-45002" "$(cat "$proc/ip_local_reserved_ports")"

# --apply: merged with what was reserved, nothing removed; a second run changes nothing.
"$portpool" reserve --config "$config" --apply >/dev/null
expect_equal "reserved after --apply" "41000,44000-44002,44010-44012,45000-45003" "$(cat "$proc/ip_local_reserved_ports")"
"$portpool" reserve --config "$config" --apply --json >"$work/again.json"
expect_equal "reserved after a second --apply" "41000,44000-44002,44010-44012,45000-45003" \
  "$(cat "$proc/ip_local_reserved_ports")"
expect_equal "pools reserved" "[True, True]" "$(json_field "$work/again.json" '[s["reserved"] for s in data["services"]]')"

# table says it too.
"$portpool" table --config "$config" --instance 2 --json >"$work/table.json"
expect_equal "table reserved" "[True, True, True]" \
  "$(json_field "$work/table.json" '[s["reserved"] for s in data["services"]]')"
"$portpool" table --config "$config" >"$work/table.txt"
grep -q "^outside .*not needed" "$work/table.txt" || fail "table does not say 'not needed': $(cat "$work/table.txt")"

# --persist: a sysctl.d file with the whole list.
mkdir "$work/sysctl.d"
"$portpool" reserve --config "$config" --persist --sysctl-dir "$work/sysctl.d" >/dev/null
grep -qx "net.ipv4.ip_local_reserved_ports = 41000,44000-44002,44010-44012,45000-45003" \
  "$work/sysctl.d/90-portpool.conf" || fail "persisted file: $(cat "$work/sysctl.d/90-portpool.conf")"
status=0
"$portpool" reserve --config "$config" --persist --sysctl-dir "$work/missing" >/dev/null 2>&1 || status=$?
expect_equal "exit code for a missing sysctl directory" 71 "$status"

if [ "$failures" -ne 0 ]; then
  exit 1
fi
echo "all reserve checks passed"
