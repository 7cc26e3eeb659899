#!/usr/bin/env python3
"""Checks that every NOLINT names checks that .clang-tidy enables.

A NOLINT, NOLINTNEXTLINE, NOLINTBEGIN or NOLINTEND comment must name its checks, as in
NOLINT(bugprone-use-after-move), and each one must be enabled by the .clang-tidy at the root
(a glob such as bugprone-* must match at least one enabled check): a NOLINT naming a check
that is off, or that this clang-tidy does not have, silences nothing and misleads the reader.
A bare NOLINT, NOLINT(*) or "NOLINT (check)" (clang-tidy reads that as bare) hides every check.

The enabled checks are those `clang-tidy --list-checks` prints when run in the root.

Usage: check_nolint.py [--clang-tidy PATH] [ROOT]   (default PATH: $CLANG_TIDY or clang-tidy;
                                                      default ROOT: this script's repository)
       check_nolint.py --self-test
"""

import argparse
import fnmatch
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DIRECTORIES = ('include', 'src', 'tools', 'examples', 'tests', 'bench', 'fuzz')
SUFFIXES = ('.cpp', '.hpp', '.h', '.cc', '.cxx', '.hxx', '.ipp', '.inl')
# clang-tidy reads a check list only when '(' follows the directive at once.
DIRECTIVE = re.compile(r'\b(NOLINT(?:NEXTLINE|BEGIN|END)?)\b(?:\(([^)]*)\))?')


def parse_check_list(output):
    """The check names in the output of `clang-tidy --list-checks`."""
    return {line.strip() for line in output.splitlines() if line.startswith(' ') and line.strip()}


def enabled_checks(clang_tidy, root):
    result = subprocess.run([clang_tidy, '--list-checks'], cwd=root, capture_output=True, text=True, check=True)
    return parse_check_list(result.stdout)


def offences(path, text, enabled):
    """One line per NOLINT of text that names no check or a check not enabled."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in DIRECTIVE.finditer(line):
            directive, listed = match.group(1), match.group(2)
            checks = [check.strip() for check in (listed or '').split(',') if check.strip()]
            if not checks or '*' in checks:
                found.append(f'{path}:{number}: {directive} names no check: name the checks it silences')
            for check in checks:
                if check != '*' and not fnmatch.filter(enabled, check):
                    found.append(f'{path}:{number}: {directive} names {check}, which .clang-tidy does not enable')
    return found


def scan(root, enabled):
    found = []
    for directory in DIRECTORIES:
        for path in sorted((root / directory).rglob('*')):
            if path.suffix in SUFFIXES and path.is_file():
                text = path.read_text(errors='replace')
                found += offences(path.relative_to(root), text, enabled)
    return found


SELF_TEST_SOURCE = '''\
int a = 0;  // NOLINT(bugprone-use-after-move): enabled, fine
int b = 0;  // NOLINT
int c = 0;  // NOLINT(concurrency-mt-unsafe): not enabled
// NOLINTNEXTLINE(bugprone-empty-catch, misc-unused-parameters)
// NOLINTBEGIN(misc-*)
// NOLINTEND(google-*)
int d = 0;  // NOLINT (misc-unused-parameters)
int e = 0;  // NOLINT(*)
'''
SELF_TEST_EXPECTED = [
    'src/a.cpp:2: NOLINT names no check: name the checks it silences',
    'src/a.cpp:3: NOLINT names concurrency-mt-unsafe, which .clang-tidy does not enable',
    'src/a.cpp:4: NOLINTNEXTLINE names bugprone-empty-catch, which .clang-tidy does not enable',
    'src/a.cpp:6: NOLINTEND names google-*, which .clang-tidy does not enable',
    'src/a.cpp:7: NOLINT names no check: name the checks it silences',
    'src/a.cpp:8: NOLINT names no check: name the checks it silences',
]


def self_test():
    enabled = parse_check_list('Enabled checks:\n    bugprone-use-after-move\n    misc-unused-parameters\n\n')
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for name, text in (('src/a.cpp', SELF_TEST_SOURCE), ('scripts/b.cpp', '// NOLINT\n'), ('src/c.md', 'NOLINT\n')):
            (root / name).parent.mkdir(exist_ok=True)
            (root / name).write_text(text)
        found = [str(line) for line in scan(root, enabled)]
    if found != SELF_TEST_EXPECTED:
        print('self-test failed; found:', *found, 'expected:', *SELF_TEST_EXPECTED, sep='\n', file=sys.stderr)
        return 1
    print(f'self-test passed: {len(found)} offences caught')
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', nargs='?', type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument('--clang-tidy', default=os.environ.get('CLANG_TIDY', 'clang-tidy'))
    parser.add_argument('--self-test', action='store_true')
    arguments = parser.parse_args()
    if arguments.self_test:
        return self_test()
    try:
        enabled = enabled_checks(arguments.clang_tidy, arguments.root)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f'cannot run {arguments.clang_tidy} --list-checks: {error}', file=sys.stderr)
        return 2
    if not enabled:
        print(f'{arguments.clang_tidy} --list-checks listed no check', file=sys.stderr)
        return 2
    found = scan(arguments.root, enabled)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
