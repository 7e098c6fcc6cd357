"""The ``newsarchive`` command line: parses the arguments and dispatches to the command's module.

Each subcommand is the ``run(args) -> exit code`` of a module of :mod:`newsarchive.commands`,
imported only when it is used (``newsarchive --help`` does not load Scrapy). Exit codes:
:mod:`newsarchive.base.exitcodes`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path

from newsarchive.base.exitcodes import EXIT_INTERRUPTED

# subcommand -> module of newsarchive.commands whose run(args) it is
COMMAND_MODULES = {
    "crawl": "crawl",
    "index": "index",
    "verify": "verify",
    "repair": "repair",
    "replay": "replay",
    "seed": "seed",
    "reextract": "reextract",
    "eval": "evaluate",
    "export": "export",
}
WORKER_MODULE = "worker"  # crawl --redis: a worker of a distributed crawl (docs/distributed.md)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsarchive",
        description="Archive news articles: byte-faithful WARC, clean text, replay.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = sub.add_parser("crawl", help="crawl seeds into the archive")
    crawl.add_argument("seeds", nargs="*", metavar="SEED", help="URL, URL list or seed document")
    _output_option(crawl)
    crawl.add_argument(
        "--depth", type=_count(0), metavar="N", help="link depth to follow (default 1)"
    )
    crawl.add_argument(
        "--allow-domain", action="append", default=[], metavar="D", help="widen the scope"
    )
    crawl.add_argument("--ignore-robots", action="store_true", help="do not obey robots.txt")
    crawl.add_argument(
        "--max-pages", type=_count(1), metavar="N",
        help="fetch at most N pages, seeds included (default: no limit)",
    )
    crawl.add_argument(
        "--concurrency", type=_count(1), metavar="N", help="concurrent requests (default 16)"
    )
    crawl.add_argument("--no-extract", action="store_true", help="WARC only, no text extraction")
    crawl.add_argument("--jsonl-html", action="store_true", help="put the raw page in the JSONL")
    crawl.add_argument("--warc-max-size", type=int, metavar="BYTES", help="rotate WARC files")
    crawl.add_argument(
        "--resume", nargs="?", const=True, default=False, metavar="RUN_ID",
        help="continue the interrupted run RUN_ID (bare: the latest interrupted run)",
    )
    crawl.add_argument("--redis", metavar="URL", help="distributed mode: shared frontier")
    crawl.add_argument(
        "--proxy", metavar="URL", help="http://[USER:PASSWORD@]HOST:PORT for every request "
        "(default: http_proxy/https_proxy; no_proxy applies)",
    )
    crawl.add_argument(
        "--revisit-after", metavar="DURATION", help="re-fetch known articles after (default 6h)"
    )
    crawl.add_argument(
        "--wait-lock", action="store_true", help="wait for another run on -o to finish"
    )
    crawl.add_argument(
        "--no-requisites", action="store_true", help="do not capture page requisites"
    )
    crawl.add_argument(
        "--progress", action="store_true",
        help="a progress line every 30 s even when stderr is not a terminal (logs)",
    )
    _verbosity_options(crawl)
    crawl.add_argument(
        "-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
        help="any Scrapy or NEWSARCHIVE_* setting",
    )

    for name, text in (
        ("index", "rebuild the CDXJ index from the WARC files"),
        ("verify", "check the archive's integrity; non-zero exit lists problems"),
        ("repair", "recover what a killed run left"),
    ):
        _output_option(sub.add_parser(name, help=text))

    replay = sub.add_parser("replay", help="browse and replay the archive in a browser")
    _output_option(replay)
    replay.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    replay.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    replay.add_argument(
        "--replay-port", type=int, help="port of the replayed pages' origin (default PORT+1)"
    )
    replay.add_argument(
        "--replay-host", metavar="NAME",
        help="host name of the replayed pages' origin, one the app and other local services do "
        "not use (default $NEWSARCHIVE_REPLAY_HOST or replay.localhost)",
    )

    export = sub.add_parser("export", help="package the archive for other tools (WACZ)")
    _output_option(export)
    export.add_argument(
        "--wacz", type=Path, required=True, metavar="FILE",
        help="write a WACZ package (ReplayWeb.page, pywb) to FILE (.wacz)",
    )
    export.add_argument(
        "--run", action="append", default=[], metavar="RUN_ID",
        help="only this run (repeat for several; default: every run)",
    )
    export.add_argument(
        "--index", choices=("cdxj", "zipnum"), default="cdxj",
        help="cdxj: one plain index (default); zipnum: gzip blocks that ReplayWeb.page loads "
        "as needed (large archives)",
    )

    seed = sub.add_parser("seed", help="push seeds into a shared Redis frontier")
    seed.add_argument("seeds", nargs="+", metavar="SEED")
    seed.add_argument("--redis", required=True, metavar="URL")
    seed.add_argument(
        "-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
        help="NEWSARCHIVE_REDIS_PREFIX or NEWSARCHIVE_REDIS_FINGERPRINT_TTL, as the workers'",
    )

    reextract = sub.add_parser("reextract", help="re-run extraction from the stored WARCs")
    _output_option(reextract)
    reextract.add_argument("--run", metavar="RUN_ID", help="only this run (default: all)")

    evaluate = sub.add_parser("eval", help="score extraction on the development set")
    evaluate.add_argument("--data", type=Path, help="the evalset tarball or its unpacked folder")
    evaluate.add_argument("--limit", type=int, help="only the first N pages")
    evaluate.add_argument("--min-f1", type=float, help="exit 1 if F1 is below this")
    evaluate.add_argument(
        "--labels", type=Path, help="metadata labels (default: eval/metadata-labels.json)"
    )
    evaluate.add_argument(
        "--metadata-only", action="store_true",
        help="crawl only the labelled pages and score only their metadata (fast)",
    )
    evaluate.add_argument(
        "--misses", action="store_true", help="list the pages whose metadata newsarchive missed"
    )
    return parser


def _count(minimum: int):
    """An argparse type: a whole number of at least minimum (else a usage error, exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return parse


def _verbosity_options(parser: argparse.ArgumentParser) -> None:
    quiet_or_verbose = parser.add_mutually_exclusive_group()
    quiet_or_verbose.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="log Scrapy's progress and full tracebacks (-vv: debug)",
    )
    quiet_or_verbose.add_argument(
        "-q", "--quiet", action="store_true",
        help="errors only; the summary only if the run did not end cleanly (cron)",
    )


def _output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", type=Path, default=Path("output"), help="archive root (default ./output)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    name = COMMAND_MODULES[args.command]
    if args.command == "crawl" and args.redis:
        name = WORKER_MODULE
    try:
        return import_module(f"newsarchive.commands.{name}").run(args)
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling of it (crawl's) is set
        print(f"newsarchive {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
