#!/usr/bin/env python3
"""Prints, for each build, how many tests ran, passed, were skipped and failed, and why each skipped
test was skipped, from the JUnit files that `ctest --output-junit` wrote.

Usage: test_summary.py NAME=JUNIT_FILE...   (exits 1 when a file is missing or shows a failure)
"""

import re
import sys
import xml.etree.ElementTree as ElementTree

SKIP_REASON = re.compile(r"SKIPPED: (.*)")


def summarise(name, path):
    cases = ElementTree.parse(path).getroot().iter("testcase")
    counts = {"run": 0, "passed": 0, "skipped": 0, "failed": 0}
    skipped = []
    for case in cases:
        counts["run"] += 1
        if case.find("skipped") is not None or case.get("status") in ("notrun", "disabled"):
            counts["skipped"] += 1
            output = case.findtext("system-out") or ""
            reason = SKIP_REASON.search(output)
            skipped.append((case.get("name"), reason.group(1) if reason else "no reason given"))
        elif case.find("failure") is not None or case.get("status") == "fail":
            counts["failed"] += 1
        else:
            counts["passed"] += 1
    print(f"{name:18} {counts['run']:4} tests: {counts['passed']:4} passed, {counts['skipped']:3} skipped, "
          f"{counts['failed']:3} failed")
    for test, reason in skipped:
        print(f"{'':18} skipped: {test}: {reason}")
    return counts["failed"] == 0


def main(arguments):
    if not arguments:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    all_passed = True
    for argument in arguments:
        name, _, path = argument.partition("=")
        try:
            all_passed &= summarise(name, path)
        except (OSError, ElementTree.ParseError) as error:
            print(f"{name:18} no test results ({error})")
            all_passed = False
    return 0 if all_passed else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
