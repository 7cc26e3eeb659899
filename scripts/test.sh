#!/usr/bin/env bash
# Installs the dependencies and runs every check of CI (.ci/run), in about 8 minutes on 2 cores:
#   clang             the whole tree but the header tests, warnings as errors: every test (but the soak);
#   clang-asan-ubsan  the library, the command and the fleet layer, with their tests, under
#                     AddressSanitizer and UndefinedBehaviorSanitizer (the command's tests are the
#                     plain build's programs, run against this build's portpool); the fuzzers
#                     replay their corpora, then one of them fuzzes for PORTPOOL_FUZZ_SECONDS (60);
#   clang-tsan        the same under ThreadSanitizer (but the suites and subcommands that start no
#                     thread);
#   gcc               the library as gcc users compile it: every public header in one unit, header-only
#                     and separately compiled (each alone is checked with clang by a test), two units of
#                     one program, the shipped headers' test, the separately compiled library's test;
#   lint              clang-format, clang-tidy over one part of the sources (scripts/tidy.sh); the
#                     NOLINT audit is a test (nolint).
# While the tests of one build run, which mostly wait for processes and sockets, the next build
# compiles at idle priority (SCHED_IDLE), as do the fuzzers and clang-tidy: the tests keep the
# processors they ask for. It ends with the number of tests run, passed and skipped in each build.
# docs/ci.md says where the time goes and what each stage catches.
#
#   bash scripts/test.sh           everything, as CI
#   bash scripts/test.sh --quick   before a commit: the clang build and its tests, clang-format and
#                                  clang-tidy on the files changed since HEAD
#
# The soak test (label soak) is left out: ctest --test-dir build/clang -L soak.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
bash scripts/install-deps.sh
jobs=$(nproc)
mkdir -p build
started=$SECONDS
trap 'background=$(jobs -p); [[ -z $background ]] || kill $background 2>/dev/null' EXIT

stage() { printf '\n== %s (%d s)\n' "$1" $((SECONDS - started)); }

# configure NAME OPTION...: a Ninja tree in build/NAME with warnings as errors.
configure() {
  local name=$1
  shift
  cmake -S . -B "build/$name" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPORTPOOL_WARNINGS_AS_ERRORS=ON \
    -DPORTPOOL_MCP_SDK_DIR="$PWD/build/mcp-sdk" "$@" >"build/$name.configure.log" ||
    { cat "build/$name.configure.log"; return 1; }
}

# run_tests NAME CTEST_ARGUMENT...: the tests of build/NAME, their results in build/NAME/junit.xml.
run_tests() {
  local name=$1
  shift
  stage "test $name"
  ctest --test-dir "build/$name" -j$((2 * jobs)) --timeout 300 --output-on-failure \
    --output-junit junit.xml "$@"
}

# run_command_tests NAME CTEST_ARGUMENT...: the command's tests (tests/cli), compiled once in the
# plain build, run against build/NAME's portpool; their results in build/NAME/junit-command.xml.
run_command_tests() {
  local name=$1
  shift
  stage "test $name: the command's tests, against its portpool"
  PORTPOOL_TEST_CLI="$PWD/build/$name/tools/portpool" PORTPOOL_TEST_SANITIZED=1 \
    ctest --test-dir build/clang -j$((2 * jobs)) --timeout 300 --output-on-failure \
    --output-junit "$PWD/build/$name/junit-command.xml" -R '^cli ' -LE soak "$@"
}

# The command's subcommands that start no thread (table, template, status without --watch,
# reserve, and the forwarding to the fleet component): ThreadSanitizer could show them nothing.
single_threaded_commands='^cli (table|template|status|reserve|fleet_component):'

# in_background NAME COMMAND...: COMMAND (a program or a function) at idle priority, its output in
# build/NAME.log.
in_background() {
  local name=$1
  shift
  (chrt --idle --pid 0 "$BASHPID" && "$@") >"build/$name.log" 2>&1 &
  eval "pid_${name//-/_}=$!"
}

# finish NAME: waits for a background command and shows its output; fails as it did.
finish() {
  local name=$1 pid_name="pid_${1//-/_}" status=0
  wait "${!pid_name}" || status=$?
  stage "$name (ran at idle priority)"
  cat "build/$name.log"
  return "$status"
}

lint_format() {
  stage "lint: clang-format"
  git ls-files '*.hpp' '*.ipp' '*.cpp' | xargs clang-format --dry-run --Werror
}

# clang, the whole tree, with the linker that links the large test programs in a second, and with
# line tables as the only debug information: what sanitizer reports and backtraces need, at a
# fraction of the cost of full debug information in every object.
linker=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld
  -DCMAKE_MODULE_LINKER_FLAGS=-fuse-ld=lld)
clang=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only "${linker[@]}")
configure clang "${clang[@]}" -DPORTPOOL_BUILD_HEADER_TESTS=OFF

if [[ $mode == --quick ]]; then
  stage "build clang"
  cmake --build build/clang
  run_tests clang -LE soak
  lint_format
  bash scripts/tidy.sh --changed HEAD
  python3 scripts/test_summary.py clang=build/clang/junit.xml
  exit
fi

# The sanitizer builds leave out what they add nothing to: the example servers, the benchmarks, and
# the tests of how the library compiles, links and installs (docs/ci.md). The command's tests, which
# drive it as separate processes, are the plain build's programs run against each build's portpool.
sanitized=("${clang[@]}" -DPORTPOOL_BUILD_EXAMPLES=OFF -DPORTPOOL_BUILD_BENCHMARKS=OFF
  -DPORTPOOL_BUILD_HEADER_TESTS=OFF -DPORTPOOL_BUILD_PACKAGE_TESTS=OFF -DPORTPOOL_BUILD_COMMAND_TESTS=OFF)
build_asan() {
  configure clang-asan-ubsan "${sanitized[@]}" -DPORTPOOL_SANITIZE=address,undefined -DPORTPOOL_BUILD_FUZZERS=ON &&
    cmake --build build/clang-asan-ubsan
}
build_tsan() {
  configure clang-tsan "${sanitized[@]}" -DPORTPOOL_SANITIZE=thread &&
    cmake --build build/clang-tsan
}
gcc_tests='^(odr|shipped_headers|separate_compilation):|^platform_not_linux$'
build_gcc() {
  configure gcc -DCMAKE_CXX_COMPILER=g++ -DCMAKE_CXX_FLAGS_DEBUG=-g1 "${linker[@]}" -DPORTPOOL_BUILD_TOOLS=OFF \
    -DPORTPOOL_BUILD_EXAMPLES=OFF \
    -DPORTPOOL_BUILD_BENCHMARKS=OFF -DPORTPOOL_BUILD_FLEET=OFF &&
    cmake --build build/gcc --target portpool_all_public_headers portpool_all_public_headers_separate test_odr \
      test_shipped_headers test_separate_compilation
}

stage "build clang"
cmake --build build/clang
in_background build-clang-asan-ubsan build_asan
run_tests clang -LE soak

finish build-clang-asan-ubsan
in_background build-clang-tsan build_tsan
# clang-tidy takes about 30 s a file: each run checks one of PORTPOOL_TIDY_SHARDS parts, chosen by
# the number of commits, so that consecutive commits check every file. It starts here, beside the
# ASan tests and the TSan build, so that it is not the last thing left running on one core.
shards=${PORTPOOL_TIDY_SHARDS:-32}
in_background tidy bash scripts/tidy.sh --shard "$(($(git rev-list --count HEAD) % shards))/$shards"
run_tests clang-asan-ubsan -LE soak
run_command_tests clang-asan-ubsan

fuzz() {
  local target pids=()
  for target in "${fuzzed[@]}"; do
    mkdir -p "build/fuzz/found/$target" "build/fuzz/artifacts/$target"
    # A crash leaves build/fuzz/artifacts/TARGET/crash-*: add it to fuzz/corpus/TARGET as a
    # regression input.
    "build/clang-asan-ubsan/fuzz/$target" -max_total_time="${PORTPOOL_FUZZ_SECONDS:-60}" -timeout=10 \
      -print_final_stats=1 -artifact_prefix="build/fuzz/artifacts/$target/" "build/fuzz/found/$target" \
      "fuzz/corpus/$target" >"build/fuzz/$target.log" 2>&1 &
    pids+=($!)
  done
  local status=0 pid
  for pid in "${pids[@]}"; do
    wait "$pid" || status=1
  done
  for target in "${fuzzed[@]}"; do
    echo "-- $target"
    tail -n 12 "build/fuzz/$target.log"
  done
  return "$status"
}

# At idle priority beside the TSan tests a fuzzer may get no processor for seconds, and libFuzzer's
# -timeout counts wall time: an input that timed out is run again here, at normal priority, and
# fails the run only if it is slow there too. Any other artifact (crash, leak, oom) fails it.
replay_fuzz_timeouts() {
  local target artifact status=0 found=0
  for target in "${fuzzed[@]}"; do
    for artifact in "build/fuzz/artifacts/$target"/*; do
      [[ -e $artifact ]] || continue
      found=1
      case $(basename "$artifact") in
      *.replay.log) ;;
      timeout-*)
        if "build/clang-asan-ubsan/fuzz/$target" -timeout=10 "$artifact" >"$artifact.replay.log" 2>&1; then
          echo "$target: $artifact timed out at idle priority and ran in time at normal priority: not a finding"
        else
          echo "$target: $artifact is slow at normal priority too: add it to fuzz/corpus/$target once fixed)"
          tail -n 20 "$artifact.replay.log"
          status=1
        fi
        ;;
      *)
        echo "$target: $artifact is a finding: add it to fuzz/corpus/$target once fixed"
        status=1
        ;;
      esac
    done
  done
  if ((!found)); then
    echo "a fuzzer failed without leaving an input behind: see its log above"
    return 1
  fi
  return "$status"
}

# Every run replays the three corpora (the ASan tests) and fuzzes one target for
# PORTPOOL_FUZZ_SECONDS, chosen by the number of commits as the tidy part is, so that consecutive
# commits fuzz each in turn; PORTPOOL_FUZZ_TARGETS (names, space-separated) fuzzes others.
fuzz_targets=(fuzz_record fuzz_config_file fuzz_fleet_holder)
read -r -a fuzzed <<<"${PORTPOOL_FUZZ_TARGETS:-${fuzz_targets[$(($(git rev-list --count HEAD) % ${#fuzz_targets[@]}))]}}"

finish build-clang-tsan
mkdir -p build/fuzz
in_background fuzz fuzz
in_background build-gcc build_gcc
run_tests clang-tsan -LE soak
run_command_tests clang-tsan -E "$single_threaded_commands"

finish build-gcc
run_tests gcc -R "$gcc_tests"
lint_format
finish fuzz || replay_fuzz_timeouts
finish tidy

stage "summary"
python3 scripts/test_summary.py clang=build/clang/junit.xml clang-asan-ubsan=build/clang-asan-ubsan/junit.xml \
  clang-asan-ubsan-cli=build/clang-asan-ubsan/junit-command.xml clang-tsan=build/clang-tsan/junit.xml \
  clang-tsan-cli=build/clang-tsan/junit-command.xml gcc=build/gcc/junit.xml
