"""``newsarchive seed --redis URL SEED...``: push a seed round into the shared frontier."""

from __future__ import annotations

import argparse
import sys

import redis

from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_OK, EXIT_USAGE
from newsarchive.base.urls import redact_url
from newsarchive.commands.crawl import UsageError, project_settings, setting_pairs
from newsarchive.config import Config
from newsarchive.crawl.seeds import load_seeds
from newsarchive.distributed.connection import RedisKeys, connect
from newsarchive.distributed.seeding import push_seeds


def run(args: argparse.Namespace) -> int:
    """``newsarchive seed --redis URL SEED...``"""
    seeds, warnings = load_seeds(args.seeds)
    for warning in warnings:
        print(f"newsarchive seed: {warning}", file=sys.stderr)
    if not seeds:
        print("newsarchive seed: no usable seed: nothing pushed", file=sys.stderr)
        return EXIT_FATAL
    try:
        config = Config.from_settings(project_settings(setting_pairs(args.settings)))
    except (UsageError, ValueError) as exc:
        print(f"newsarchive seed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    prefix = config.redis_prefix
    server = connect(args.redis)
    try:
        round_id = push_seeds(server, RedisKeys(prefix), seeds, config.redis_fingerprint_ttl)
    except redis.RedisError as exc:
        print(f"newsarchive seed: Redis at {redact_url(args.redis)}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    finally:
        server.close()
    print(f"newsarchive seed: pushed {len(seeds)} seed(s) as round {round_id} to "
          f"{redact_url(args.redis)} ({prefix}:seeds)", file=sys.stderr)
    return EXIT_OK


