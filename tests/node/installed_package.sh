#!/usr/bin/env bash
# The Node package as its users get it: packed with `npm pack`, installed offline into a fresh
# project, and used from there.
#   installed_package.sh run SOURCE_DIR           the package's test suite (portpool.test.js), then
#                                                 CommonJS and ES module programs, run against the
#                                                 portpool command ($PORTPOOL_BIN)
#   installed_package.sh types SOURCE_DIR TSC...  each tsc (TypeScript 5 and 7) accepts the README's
#                                                 forms with --strict, as CommonJS without
#                                                 esModuleInterop and as an ES module
set -euo pipefail
mode=$1 source_dir=$(cd "$2" && pwd)
compilers=("${@:3}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for tsc in "${compilers[@]}"; do
  if [[ ! -x $tsc ]]; then
    echo "SKIPPED: TypeScript is not installed at $tsc (it comes with the MCP SDK install, from the npm registry)"
    exit 0
  fi
done

npm pack --silent --pack-destination "$work" "$source_dir" >/dev/null
mkdir "$work/project"
cd "$work/project"
echo '{"name": "portpool-user", "private": true}' >package.json
npm install --offline --no-audit --no-fund --loglevel=error "$work"/portpool-*.tgz
cp "$here"/installed/* .

case $mode in
run)
  port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
  printf '[services.web]\nports = [%s]\n' "$port" >ports.toml
  PORTPOOL_NODE_PACKAGE=$PWD/node_modules/portpool node --test "$here/portpool.test.js"
  export CONFIG=$PWD/ports.toml LOCK_DIR=$work/locks PORT=$port
  node use.cjs
  node use.mjs
  ;;
types)
  for tsc in "${compilers[@]}"; do
    "$tsc" -p tsconfig.commonjs.json
    "$tsc" -p tsconfig.module.json
    echo "types ok with TypeScript $("$tsc" --version)"
  done
  ;;
esac
