"""The ``newsarchive`` command line (design.md, "Command line")."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3

Command = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, Command] = {}
# Commands implemented in their own modules, imported only when used: name -> "module:function".
_LAZY_COMMANDS = {
    "verify": "newsarchive.store.verify:run",
    "repair": "newsarchive.store.repair:run",
    "replay": "newsarchive.replay.server:run",
    "seed": "newsarchive.distributed.legacy:run_seed",
    "reextract": "newsarchive.commands.reextract:run",
    "eval": "newsarchive.commands.evaluate:run",
}


def command(name: str) -> Callable[[Command], Command]:
    def register(function: Command) -> Command:
        _COMMANDS[name] = function
        return function

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsarchive",
        description="Archive news articles: byte-faithful WARC, clean text, replay.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    crawl = sub.add_parser("crawl", help="crawl seeds into the archive")
    crawl.add_argument("seeds", nargs="*", metavar="SEED", help="URL, URL list or seed document")
    _output_option(crawl)
    crawl.add_argument("--depth", type=int, help="link depth to follow (default 1)")
    crawl.add_argument(
        "--allow-domain", action="append", default=[], metavar="D", help="widen the scope"
    )
    crawl.add_argument("--ignore-robots", action="store_true", help="do not obey robots.txt")
    crawl.add_argument("--max-pages", type=int, help="stop after N candidate articles")
    crawl.add_argument("--concurrency", type=int, help="concurrent requests (default 16)")
    crawl.add_argument("--no-extract", action="store_true", help="WARC only, no text extraction")
    crawl.add_argument("--jsonl-html", action="store_true", help="put the raw page in the JSONL")
    crawl.add_argument("--warc-max-size", type=int, metavar="BYTES", help="rotate WARC files")
    crawl.add_argument("--resume", action="store_true", help="continue an interrupted run")
    crawl.add_argument("--redis", metavar="URL", help="distributed mode: shared frontier")
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
    return parser


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
    if args.command in _LAZY_COMMANDS:
        module_name, _, function = _LAZY_COMMANDS[args.command].partition(":")
        from importlib import import_module

        return getattr(import_module(module_name), function)(args)
    return _COMMANDS[args.command](args)


# -- crawl ---------------------------------------------------------------------------------------
def crawl_settings(args: argparse.Namespace) -> dict[str, object]:
    """Scrapy settings the crawl options stand for (applied over newsarchive.settings)."""
    settings: dict[str, object] = {
        "NEWSARCHIVE_OUTPUT_DIR": str(args.output),
        "NEWSARCHIVE_SEEDS": list(args.seeds),
        "LOG_LEVEL": "WARNING",
    }
    if args.depth is not None:
        settings["NEWSARCHIVE_DEPTH"] = args.depth
    if args.allow_domain:
        settings["NEWSARCHIVE_ALLOWED_DOMAINS"] = list(args.allow_domain)
    if args.ignore_robots:
        settings["ROBOTSTXT_OBEY"] = False
    if args.max_pages is not None:
        settings["NEWSARCHIVE_MAX_PAGES"] = args.max_pages
    if args.concurrency is not None:
        settings["CONCURRENT_REQUESTS"] = args.concurrency
        settings["CONCURRENT_REQUESTS_PER_DOMAIN"] = args.concurrency
    if args.no_extract:
        settings["NEWSARCHIVE_EXTRACT"] = False
    if args.no_requisites:
        settings["NEWSARCHIVE_REQUISITES"] = False
    if args.jsonl_html:
        settings["NEWSARCHIVE_JSONL_HTML"] = True
    if args.warc_max_size is not None:
        settings["NEWSARCHIVE_WARC_MAX_SIZE"] = args.warc_max_size
    if args.revisit_after is not None:
        try:
            parse_duration(args.revisit_after)
        except ValueError as exc:
            raise UsageError(f"--revisit-after: {exc}") from None
        settings["NEWSARCHIVE_REVISIT_AFTER"] = args.revisit_after
    if args.wait_lock:
        settings["NEWSARCHIVE_WAIT_LOCK"] = True
    for pair in args.settings:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"-s expects NAME=VALUE, got {pair!r}")
        settings[name.strip()] = value
    return settings


def parse_duration(text: str) -> float:
    from newsarchive.config import parse_duration as parse

    return parse(text)


class UsageError(Exception):
    pass


@command("crawl")
def run_crawl(args: argparse.Namespace) -> int:
    from newsarchive.crawl.seeds import load_seeds

    if args.redis:  # a worker of a distributed crawl (docs/distributed.md)
        from newsarchive.distributed.legacy import run_worker

        return run_worker(args)
    try:
        overrides = crawl_settings(args)
    except UsageError as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.seeds and not args.resume:
        print("newsarchive crawl: give at least one SEED (URL, URL list or seed document)",
              file=sys.stderr)
        return EXIT_USAGE
    problem = _check_writable(args.output)
    if problem:
        print(f"newsarchive crawl: {problem}", file=sys.stderr)
        return EXIT_FATAL
    from newsarchive.schedule.runs import RunLocked, prepare_run

    try:
        run = prepare_run(args.output, args.resume, args.wait_lock)
    except (RunLocked, LookupError) as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return EXIT_FATAL
    try:
        overrides.update(run.settings)
        if not args.seeds:
            overrides["NEWSARCHIVE_SEEDS"] = run.seeds
        seeds, _warnings = load_seeds(overrides["NEWSARCHIVE_SEEDS"])  # the spider warns too
        if not seeds:
            for warning in _warnings:
                print(f"newsarchive crawl: {warning}", file=sys.stderr)
            print("newsarchive crawl: no usable seed: nothing to crawl", file=sys.stderr)
            return EXIT_FATAL
        code, reason = _run_spider(overrides)
        run.finished(reason)
        return code
    finally:
        run.release()


def _check_writable(output: Path) -> str | None:
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create output directory {output}: {exc.strerror or exc}"
    if not os.access(output, os.W_OK | os.X_OK):
        return f"output directory {output} is not writable"
    return None


def _run_spider(overrides: dict[str, object]) -> tuple[int, str | None]:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newsarchive.settings")
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    from newsarchive.store.archive import Archive

    settings = get_project_settings()
    settings.setdict(overrides, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler("articles")
    process.crawl(crawler)
    process.start()
    archive = Archive.of(crawler)
    stats = archive.stats
    if archive.fatal is not None:
        print(f"newsarchive crawl: {archive.fatal}; stopped. What was written is whole: "
              f"free space or fix permissions, then `newsarchive repair -o {archive.layout.root}`",
              file=sys.stderr)
        return EXIT_FATAL, archive.finish_reason
    if stats.seeds_total == 0:
        return EXIT_FATAL, archive.finish_reason
    return (EXIT_PARTIAL if stats.seeds_failed else EXIT_OK), archive.finish_reason


# -- index ---------------------------------------------------------------------------------------
@command("index")
def run_index(args: argparse.Namespace) -> int:
    from newsarchive.store.archive import Layout
    from newsarchive.store.cdxj import index_lock, rebuild_index

    layout = Layout(args.output)
    with index_lock(layout.index):  # a worker closing meanwhile merges after, not lost under
        warcs = sorted(layout.warc.glob("*.warc.gz"))
        path = rebuild_index(warcs, layout.index)
    with open(path, encoding="utf-8") as index:
        count = sum(1 for _ in index)
    print(f"indexed {len(warcs)} WARC file(s): {count} lines in {path}", file=sys.stderr)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
