#!/usr/bin/env bash
# Installs the dependencies and runs the whole test suite three times:
#   1. gcc, warnings as errors (the main build);
#   2. clang with AddressSanitizer + UndefinedBehaviorSanitizer, warnings as errors;
#   3. gcc with ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)

build_and_test() {
  local name=$1
  shift
  echo "== $name"
  cmake -S . -B "build/$name" -DCMAKE_BUILD_TYPE=Debug -DPORTPOOL_WARNINGS_AS_ERRORS=ON "$@" >/dev/null
  cmake --build "build/$name" -j"$jobs"
  ctest --test-dir "build/$name" -j"$jobs" --output-on-failure --timeout 300
}

build_and_test gcc
build_and_test clang-asan-ubsan -DCMAKE_CXX_COMPILER=clang++ -DPORTPOOL_SANITIZE=address,undefined
build_and_test gcc-tsan -DPORTPOOL_SANITIZE=thread
