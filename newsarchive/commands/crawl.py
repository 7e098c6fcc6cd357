"""``newsarchive crawl SEED... -o DIR``: the crawl options as Scrapy settings, the run's lock and
id (newsarchive.schedule.runs), then the ``articles`` spider in a CrawlerProcess."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import NotSupported
from scrapy.settings import Settings
from scrapy.utils.project import get_project_settings
from twisted.python.failure import Failure

from newsarchive.base.exitcodes import (
    EXIT_FATAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
)
from newsarchive.base.urls import redact_credentials
from newsarchive.capture.proxies import Proxy
from newsarchive.config import parse_duration
from newsarchive.crawl.seeds import SEED_FORMS, Seed, SeedWarning, load_seeds
from newsarchive.crawl.shutdown import GracefulStop
from newsarchive.schedule.runs import (
    PreparedRun,
    RunLocked,
    interrupted_description,
    prepare_run,
)
from newsarchive.store.archive import Archive
from newsarchive.store.layout import RUN_ID_PATTERN


def crawl_settings(args: argparse.Namespace) -> dict[str, object]:
    """Scrapy settings the crawl options stand for (applied over newsarchive.settings)."""
    settings: dict[str, object] = {
        "NEWSARCHIVE_OUTPUT_DIR": str(args.output),
        # a seed URL with a password is rejected: the password goes no further than here
        "NEWSARCHIVE_SEEDS": [
            seed if os.path.lexists(seed) else redact_credentials(seed) for seed in args.seeds
        ],
        **verbosity_settings(args),
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
    if args.proxy:
        try:
            Proxy.from_url(args.proxy)
        except NotSupported as exc:
            raise UsageError(f"--proxy: {exc}") from None
        settings["NEWSARCHIVE_PROXY"] = args.proxy
    if args.progress:
        settings["NEWSARCHIVE_PROGRESS"] = True
    settings.update(setting_pairs(args.settings))
    return settings


def verbosity_settings(args: argparse.Namespace) -> dict[str, object]:
    """Default: warnings and errors, one line per failed request. ``-q``: errors, and the
    summary only if the run did not end cleanly. ``-v``: Scrapy's INFO log and full
    tracebacks; ``-vv``: DEBUG."""
    if args.quiet:
        return {"LOG_LEVEL": "ERROR", "NEWSARCHIVE_QUIET": True}
    if args.verbose:
        level = "INFO" if args.verbose == 1 else "DEBUG"
        return {"LOG_LEVEL": level, "NEWSARCHIVE_TRACEBACKS": True}
    return {"LOG_LEVEL": "WARNING"}


def setting_pairs(pairs: list[str]) -> dict[str, str]:
    """The ``-s NAME=VALUE`` options as settings."""
    settings = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"-s expects NAME=VALUE, got {pair!r}")
        settings[name.strip()] = value
    return settings


def project_settings(overrides: dict[str, object]) -> Settings:
    """newsarchive.settings (the Scrapy project's settings) with the command line's over them."""
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newsarchive.settings")
    settings = get_project_settings()
    settings.setdict(overrides, priority="cmdline")
    return settings


class UsageError(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    try:
        overrides = crawl_settings(args)
    except UsageError as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(args.resume, str) and not RUN_ID_PATTERN.fullmatch(args.resume):
        print(f"newsarchive crawl: --resume RUN_ID: {args.resume!r} is not a run id (a bare "
              "--resume continues the latest interrupted run; its seeds are the run's)",
              file=sys.stderr)
        return EXIT_USAGE
    if not args.seeds and not args.resume:
        print("newsarchive crawl: give at least one SEED (URL, URL list or seed document)",
              file=sys.stderr)
        return EXIT_USAGE
    problem = check_writable(args.output)
    if problem:
        print(f"newsarchive crawl: {problem}", file=sys.stderr)
        return EXIT_FATAL
    try:
        run = prepare_run(args.output, args.resume, args.wait_lock, on_wait=say_waiting(args))
    except (RunLocked, LookupError) as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except KeyboardInterrupt:  # Ctrl-C while --wait-lock waits: nothing started
        print("newsarchive crawl: stopped before the run started", file=sys.stderr)
        return EXIT_INTERRUPTED
    # From here a stop signal is kept, not raised: a KeyboardInterrupt could land in library code
    # that swallows it (imports, seed parsing) and the run would go on as if never stopped.
    stop = GracefulStop(run.run_id)
    stop.install()
    try:
        note_interrupted(run, args.output)
        overrides.update(run.settings)
        if not args.seeds:
            overrides["NEWSARCHIVE_SEEDS"] = run.seeds
        seeds, warnings = load_seeds(overrides["NEWSARCHIVE_SEEDS"])  # the spider warns
        if not seeds:
            for warning in warnings:
                print(f"newsarchive crawl: {warning}", file=sys.stderr)
            print(f"newsarchive crawl: no usable seed: nothing to crawl ({SEED_FORMS})",
                  file=sys.stderr)
            return EXIT_FATAL
        if stop.interrupted:  # while the seeds were read: nothing started yet
            print(f"newsarchive crawl: run {run.run_id} interrupted while starting: nothing was "
                  "fetched", file=sys.stderr)
            return EXIT_INTERRUPTED
        code, reason = run_spider(overrides, stop, (seeds, warnings))
        run.finished(reason)
        return code
    except KeyboardInterrupt:  # a signal that came before the handlers were in place
        print(f"newsarchive crawl: run {run.run_id} interrupted while starting: nothing was "
              "fetched", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        run.release()


def say_waiting(args: argparse.Namespace):
    """What ``--wait-lock`` prints, once, when it has to wait."""
    def say(holder: str) -> None:
        print(f"newsarchive crawl: waiting for {holder} to finish with {args.output}...",
              file=sys.stderr, flush=True)
    return say


def note_interrupted(run: PreparedRun, output: Path) -> None:
    """A new run says that an interrupted one could be continued (and runs anyway)."""
    if run.interrupted is None:
        return
    run_id = run.interrupted["run_id"]
    print(f"newsarchive crawl: note: run {interrupted_description(run.interrupted)} was not "
          f"finished: `newsarchive crawl --resume {run_id} -o {output}` continues it",
          file=sys.stderr)


def resume_hint(run_id: str, output: object) -> str:
    return f"`newsarchive crawl --resume {run_id} -o {output}`"


def check_writable(output: Path) -> str | None:
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create output directory {output}: {exc.strerror or exc}"
    if not os.access(output, os.W_OK | os.X_OK):
        return f"output directory {output} is not writable"
    return None


def run_spider(
    overrides: dict[str, object], stop: GracefulStop, seeds: tuple[list[Seed], list[SeedWarning]]
) -> tuple[int, str | None]:
    """Run the crawl under `stop`'s signal handlers (installed already: a signal that came
    while starting stops the run once its engine runs); `seeds`: NEWSARCHIVE_SEEDS as read
    already, handed to the spider."""
    run_id = stop.run_id
    process = CrawlerProcess(project_settings(overrides))
    crawler = process.create_crawler("articles")
    failures: list[Failure] = []
    process.crawl(crawler, loaded_seeds=seeds).addErrback(failures.append)
    stop.start(process, crawler)
    archive = Archive.of(crawler)
    stats = archive.stats
    if failures:  # a component failed to load or start: Scrapy logged its traceback
        error = failures[0].value
        print(f"newsarchive crawl: the crawl could not start: {type(error).__name__}: {error}",
              file=sys.stderr)
        return EXIT_FATAL, archive.finish_reason
    if archive.extraction_unavailable is not None:
        print(unavailable_message(archive.extraction_unavailable), file=sys.stderr)
        return EXIT_FATAL, archive.finish_reason
    if archive.fatal is not None:
        print(f"newsarchive crawl: {archive.fatal}; stopped. What was written is whole: "
              f"free space or fix permissions, then `newsarchive repair -o {archive.layout.root}`",
              file=sys.stderr)
        return EXIT_FATAL, archive.finish_reason
    if stop.interrupted and archive.finish_reason != "finished":
        if archive.finish_reason is None:  # stopped at once: no summary was printed
            print(f"newsarchive crawl: run {run_id} interrupted: resume with "
                  f"{resume_hint(run_id, archive.layout.root)}", file=sys.stderr)
        return EXIT_INTERRUPTED, archive.finish_reason
    if stats.seeds_total == 0:
        return EXIT_FATAL, archive.finish_reason
    return exit_code(archive), archive.finish_reason


def unavailable_message(reason: str) -> str:
    """What the crawl says when its extraction workers failed the warm-up."""
    return (f"newsarchive crawl: extraction unavailable: {reason}\n"
            "newsarchive crawl: nothing was fetched: fix the installation, or crawl with "
            "--no-extract to archive without text")


def exit_code(archive: Archive) -> int:
    """The exit code of a crawl that ran to its end: partial if a seed was invalid or could not
    be archived, or most extractions failed with the same error (the summary says which)."""
    stats = archive.stats
    partial = (
        stats.seeds_failed or stats.seeds_invalid or stats.same_extraction_error is not None
    )
    return EXIT_PARTIAL if partial else EXIT_OK
