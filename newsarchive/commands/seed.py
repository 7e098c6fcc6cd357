"""``newsarchive seed --redis URL SEED...``: push a seed round into the shared frontier."""

from __future__ import annotations

import argparse
import sys

import redis

from newsarchive.base.exitcodes import EXIT_FATAL, EXIT_OK
from newsarchive.base.urls import redact_url
from newsarchive.crawl.seeds import load_seeds
from newsarchive.distributed.connection import RedisKeys, connect
from newsarchive.distributed.seeding import fingerprint_ttl, push_seeds, setting_value


def run(args: argparse.Namespace) -> int:
    """``newsarchive seed --redis URL SEED...``"""
    seeds, warnings = load_seeds(args.seeds)
    for warning in warnings:
        print(f"newsarchive seed: {warning}", file=sys.stderr)
    if not seeds:
        print("newsarchive seed: no usable seed: nothing pushed", file=sys.stderr)
        return EXIT_FATAL
    pairs = getattr(args, "settings", None) or []
    prefix = setting_value(pairs, "NEWSARCHIVE_REDIS_PREFIX")
    ttl = fingerprint_ttl(setting_value(pairs, "NEWSARCHIVE_REDIS_FINGERPRINT_TTL"))
    server = connect(args.redis)
    try:
        round_id = push_seeds(server, RedisKeys(prefix), seeds, ttl)
    except redis.RedisError as exc:
        print(f"newsarchive seed: Redis at {redact_url(args.redis)}: {exc}", file=sys.stderr)
        return EXIT_FATAL
    finally:
        server.close()
    print(f"newsarchive seed: pushed {len(seeds)} seed(s) as round {round_id} to "
          f"{redact_url(args.redis)} ({prefix}:seeds)", file=sys.stderr)
    return EXIT_OK


