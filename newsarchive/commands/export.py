"""``newsarchive export -o DIR --wacz FILE [--run RUN]... [--index cdxj|zipnum]``: the
archive, or some of its runs, as one WACZ package (newsarchive.store.wacz, docs/export.md) that
ReplayWeb.page opens."""

from __future__ import annotations

import argparse
import sys

from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_OK
from newsarchive.store.layout import Layout
from newsarchive.store.wacz import ExportError, export_wacz


def run(args: argparse.Namespace) -> int:
    try:
        result = export_wacz(Layout(args.output), args.wacz, args.run or (), args.index)
    except ExportError as exc:
        print(f"newsarchive export: {exc}", file=sys.stderr)
        return EXIT_FATAL
    for note in result.notes:
        print(f"newsarchive export: note: {note}", file=sys.stderr)
    print(
        f"newsarchive export: {result.target}: {result.warcs} WARC file(s) "
        f"({_mib(result.warc_bytes)}), {result.index_lines} index lines, {result.pages} pages; "
        f"{_mib(result.size)} in {result.seconds:.1f} s",
        file=sys.stderr,
    )
    return EXIT_OK


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"
