"""``newsarchive repair -o DIR``: recover what a killed run left (newsarchive.store.repair), and
report the unreadable records it cannot repair (exit 1 then, as ``verify``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_OK
from newsarchive.store.layout import Layout
from newsarchive.store.repair import repair
from newsarchive.store.runlock import RunLock, RunLocked


def run(args: argparse.Namespace) -> int:
    root: Path = args.output
    if not root.is_dir():
        print(f"newsarchive repair: {root} is not a directory", file=sys.stderr)
        return EXIT_FATAL
    layout = Layout(root)
    try:
        lock = RunLock.acquire(layout.state, "repair")
    except RunLocked as exc:
        print(f"newsarchive repair: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except OSError as exc:
        print(f"newsarchive repair: cannot lock {root}: {_os_error(exc)}", file=sys.stderr)
        return EXIT_FATAL
    try:
        report = repair(layout, check_closed=True)
    except OSError as exc:
        print(f"newsarchive repair: {_os_error(exc)}", file=sys.stderr)
        return EXIT_FATAL
    finally:
        lock.release()
    for line in report.lines():
        print(f"newsarchive repair: {line}", file=sys.stderr)
    if report.damaged:
        print(f"newsarchive repair: {len(report.damaged)} unreadable record(s) cannot be "
              f"repaired: closed WARC files are never rewritten", file=sys.stderr)
        return EXIT_FATAL
    if not report.changed:
        print(f"newsarchive repair: nothing to repair in {root}", file=sys.stderr)
    return EXIT_OK


def _os_error(exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"
