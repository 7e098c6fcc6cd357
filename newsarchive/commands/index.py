"""``newsarchive index -o DIR``: rebuild the CDXJ index from every WARC file of the archive."""

from __future__ import annotations

import argparse
import sys

from newsarchive.base.exitcodes import EXIT_OK
from newsarchive.store.cdxj import index_lock, rebuild_index
from newsarchive.store.layout import Layout


def run(args: argparse.Namespace) -> int:
    layout = Layout(args.output)
    with index_lock(layout.index):  # a worker closing meanwhile merges after, not lost under
        warcs = sorted(layout.warc.glob("*.warc.gz"))
        path = rebuild_index(warcs, layout.index)
    with open(path, encoding="utf-8") as index:
        count = sum(1 for _ in index)
    print(f"indexed {len(warcs)} WARC file(s): {count} lines in {path}", file=sys.stderr)
    return EXIT_OK
