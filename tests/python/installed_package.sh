#!/usr/bin/env bash
# The Python package as its users install it (bindings/python/README.md): into a fresh venv that
# sees the system's pytest and pytest-xdist (python3 -m venv --system-site-packages), with pip,
# offline (--no-index --no-build-isolation). The package's test suite (test_package.py) then runs
# with that venv's Python: the package is imported from the venv and the pytest plugin loads
# through its entry point (pytest11), without -p.
#   installed_package.sh PYTHON SOURCE_DIR
set -euo pipefail
python=$1 source_dir=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  echo "SKIPPED: $python cannot create a venv (Debian: apt-get install python3-venv)"
  exit 0
fi

# pip builds in the folder it installs from: a copy keeps the source folder clean.
cp -r "$source_dir" "$work/source"
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --quiet --no-index --no-build-isolation "$work/source"

cd "$work"
PORTPOOL_PYTHON_VENV=$work/venv PYTHONPATH=$here \
  "$work/venv/bin/python" -m pytest -p no:cacheprovider -q "$here/test_package.py"
