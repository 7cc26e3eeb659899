#!/usr/bin/env bash
# clang-tidy (.clang-tidy) over the project's sources, with a clang compile database in build/tidy.
# Headers are checked through the sources that include them; a changed public header through the
# unit that includes it alone.
#
#   bash scripts/tidy.sh --changed [REV]   the files changed since REV (default: HEAD, i.e. the
#                                          uncommitted changes): what to run before a commit
#   bash scripts/tidy.sh --shard I/N       the I-th of N equal parts of every source file (CI takes
#                                          one part per run, docs/ci.md)
#   bash scripts/tidy.sh --all             every source file (about an hour on 2 cores)
#
# The number of parallel jobs is PORTPOOL_TIDY_JOBS (default: the number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/tidy
mode=${1:---changed}

configure() {
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    -DPORTPOOL_PRECOMPILED_HEADERS=OFF -DPORTPOOL_BUILD_FUZZERS=ON >/dev/null
  # The fleet layer's sources include the code generated from the etcd protocol.
  mapfile -t generated < <(ninja -C "$build" -t targets all | sed -n 's#^\(src/fleet/generated/[^:]*\.h\):.*#\1#p')
  if ((${#generated[@]})); then
    ninja -C "$build" "${generated[@]}" >/dev/null
  fi
}

# tests/layers holds the layer check's inputs (scripts/check_layers.py), made to break its rules and
# never compiled.
not_compiled='^tests/layers/'

all_sources() {
  git ls-files 'src/*.cpp' 'tools/*.cpp' 'examples/*.cpp' 'tests/*.cpp' 'bench/*.cpp' 'fuzz/*.cpp' |
    grep -v "$not_compiled" | sort
}

changed_sources() {
  local since=$1 file unit
  {
    git diff --name-only "$since" -- src tools examples tests bench fuzz include
    git ls-files --others --exclude-standard -- src tools examples tests bench fuzz include
  } | sort -u | while read -r file; do
    [[ -f $file && ! $file =~ $not_compiled ]] || continue
    case $file in
      *.cpp) echo "$file" ;;
      include/portpool/*.hpp | include/portpool/*.ipp)
        unit=$(basename "$file" .hpp)
        if [[ $file == include/portpool/"$unit".hpp ]]; then
          echo "$build/tests/header_units/portpool_${unit}_hpp.cpp"
        else
          echo "$build/tests/header_units/portpool_portpool_hpp.cpp"
        fi
        ;;
    esac
  done | sort -u
}

case $mode in
  --all) mapfile -t files < <(all_sources) ;;
  --changed) mapfile -t files < <(changed_sources "${2:-HEAD}") ;;
  --shard)
    index=${2%/*}
    count=${2#*/}
    mapfile -t files < <(all_sources | awk -v index_="$index" -v count="$count" '(NR - 1) % count == index_')
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac

if ((${#files[@]} == 0)); then
  echo "clang-tidy: no source file to check"
  exit 0
fi
configure
echo "clang-tidy: ${#files[@]} file(s): ${files[*]}"
# One clang-tidy per file: a file outside the compile database (a variant that this configuration does
# not build, such as fleet_component_missing.cpp) takes the flags of its nearest neighbour in it.
tidy_one() {
  local file=$1 extra=() output status=0
  [[ $file == */main_cxx20.cpp ]] && extra=(--extra-arg=-std=c++20)
  [[ $file == */package_consumer/separate_* ]] && extra=(--extra-arg=-DPORTPOOL_SEPARATE_COMPILATION)
  output=$(clang-tidy -p "$build" --quiet "${extra[@]}" "$file" 2>&1) || status=$?
  grep -v '^[0-9]* warnings\? generated\|^Suppressed \|^Use -header-filter' <<<"$output" || true
  return "$status"
}
export -f tidy_one
export build
status=0
printf '%s\n' "${files[@]}" | xargs -P "${PORTPOOL_TIDY_JOBS:-$(nproc)}" -I{} bash -c 'tidy_one "$1"' _ {} || status=$?
echo "clang-tidy: $([[ $status == 0 ]] && echo "no finding" || echo "findings above")"
exit "$status"
