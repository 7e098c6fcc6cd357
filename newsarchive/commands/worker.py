"""``newsarchive crawl --redis URL -o DIR [SEED...]``: one worker of a distributed crawl."""

from __future__ import annotations

import argparse
import sys

import redis
from scrapy.crawler import CrawlerProcess

from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_INTERRUPTED, EXIT_USAGE
from newsarchive.base.urls import redact_url
from newsarchive.commands.crawl import (
    UsageError,
    check_writable,
    crawl_settings,
    exit_code,
    project_settings,
    say_waiting,
    unavailable_message,
)
from newsarchive.config import Config
from newsarchive.crawl.seeds import load_seeds
from newsarchive.crawl.shutdown import GracefulStop
from newsarchive.distributed.connection import RedisKeys, connect, reserve_run_id, worker_settings
from newsarchive.distributed.seeding import push_seeds
from newsarchive.distributed.spider import DistributedArticlesSpider
from newsarchive.store.archive import Archive
from newsarchive.store.layout import Layout
from newsarchive.store.runlock import RunLock, RunLocked


def run(args: argparse.Namespace) -> int:
    """``newsarchive crawl --redis URL -o DIR [SEED...]``: one worker of the shared frontier
    (seeds given here are pushed first, as by ``newsarchive seed``)."""
    if args.resume:
        print("newsarchive crawl: --resume does not apply with --redis: the frontier is kept in "
              "Redis; start a worker again", file=sys.stderr)
        return EXIT_USAGE
    try:
        overrides = crawl_settings(args)
    except UsageError as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    config = Config.from_settings(project_settings(overrides))
    prefix = config.redis_prefix
    overrides = {**worker_settings(args.redis, prefix), **overrides, "NEWSARCHIVE_SEEDS": []}
    problem = check_writable(args.output)
    if problem:
        print(f"newsarchive crawl: {problem}", file=sys.stderr)
        return EXIT_FATAL
    server = connect(args.redis)
    try:
        server.ping()
        if args.seeds and not _push_cli_seeds(args.seeds, server, config):
            return EXIT_FATAL
        overrides["NEWSARCHIVE_RUN_ID"] = reserve_run_id(server, RedisKeys(prefix))
    except redis.RedisError as exc:
        print(f"newsarchive crawl: Redis at {redact_url(args.redis)}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    finally:
        server.close()
    layout = Layout(args.output)
    try:
        lock = RunLock.acquire(layout.state, str(overrides["NEWSARCHIVE_RUN_ID"]),
                               wait=args.wait_lock, shared=True, on_wait=say_waiting(args))
    except RunLocked as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return EXIT_FATAL
    try:
        return _run_worker_spider(overrides)
    finally:
        lock.release()


def _push_cli_seeds(args: list[str], server: redis.Redis, config: Config) -> bool:
    seeds, warnings = load_seeds(args)
    for warning in warnings:
        print(f"newsarchive crawl: {warning}", file=sys.stderr)
    if not seeds:
        print("newsarchive crawl: no usable seed: nothing to push", file=sys.stderr)
        return False
    push_seeds(server, RedisKeys(config.redis_prefix), seeds, config.redis_fingerprint_ttl)
    return True


def _run_worker_spider(overrides: dict[str, object]) -> int:
    settings = project_settings(overrides)
    middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    middlewares["newsarchive.distributed.middleware.RoundMiddleware"] = 50
    settings.set("SPIDER_MIDDLEWARES", middlewares, priority="cmdline")
    stop = GracefulStop(str(overrides["NEWSARCHIVE_RUN_ID"]))
    stop.install()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(DistributedArticlesSpider)
    process.crawl(crawler)
    stop.start(process, crawler)
    archive = Archive.of(crawler)
    if archive.extraction_unavailable is not None:
        print(unavailable_message(archive.extraction_unavailable), file=sys.stderr)
        return EXIT_FATAL
    if archive.fatal is not None:
        print(f"newsarchive crawl: {archive.fatal}; stopped", file=sys.stderr)
        return EXIT_FATAL
    if stop.interrupted and archive.finish_reason != "finished":
        return EXIT_INTERRUPTED  # the shared frontier keeps the rest: start a worker again
    return exit_code(archive)


