#!/usr/bin/env bash
# Installs the dependencies, builds portpool with warnings as errors, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug -DPORTPOOL_WARNINGS_AS_ERRORS=ON
cmake --build build/test -j"$jobs"
ctest --test-dir build/test -j"$jobs" --output-on-failure --timeout 300
