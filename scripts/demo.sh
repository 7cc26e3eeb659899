#!/usr/bin/env bash
# Installs the dependencies, builds portpool, and runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DPORTPOOL_BUILD_TESTS=OFF >/dev/null
cmake --build build/demo -j"$(nproc)" >/dev/null
./build/demo/examples/pool_tour
