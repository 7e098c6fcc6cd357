"""``newsarchive verify -o DIR``: check the archive's integrity (newsarchive.store.verify);
exit 1 lists the problems."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_OK
from newsarchive.store.verify import verify


def run(args: argparse.Namespace) -> int:
    root: Path = args.output
    if not root.is_dir():
        print(f"newsarchive verify: {root} is not a directory", file=sys.stderr)
        return EXIT_FATAL
    result = verify(root)
    for line in result.problems:
        print(line)
    if result.problem_count > len(result.problems):
        print(f"... and {result.problem_count - len(result.problems)} more problem(s)")
    for note in result.notes:
        print(f"newsarchive verify: note: {note}", file=sys.stderr)
    print(result.summary(), file=sys.stderr)
    return EXIT_FATAL if result.problem_count else EXIT_OK
