"""Seed rounds: seeds pushed onto the shared seed list with the fingerprints and scope they
imply."""

from __future__ import annotations

import json
from typing import Any

import redis

from newsarchive.base.urls import registered_domain, url_host
from newsarchive.crawl.seeds import Seed
from newsarchive.distributed.connection import RedisKeys
from newsarchive.distributed.dupefilter import fingerprint


def push_seeds(server: redis.Redis, keys: RedisKeys, seeds: list[Seed], ttl: float) -> int:
    """Start a new seed round: its seeds' fingerprints (so a link to a seed never fetches it a
    second time), the scope they imply, then the seeds themselves; returns the round id."""
    round_id = int(server.incr(keys.round))
    fingerprints = keys.fingerprints(round_id)
    with server.pipeline(transaction=True) as pipe:
        pipe.sadd(fingerprints, *(fingerprint(seed.url) for seed in seeds))
        pipe.expire(fingerprints, max(1, int(ttl)))
        pipe.sadd(keys.domains, *{registered_domain(seed.url) for seed in seeds})
        pipe.sadd(keys.seed_hosts, *{url_host(seed.url) for seed in seeds})
        pipe.rpush(keys.seeds, *(json.dumps(_seed_entry(seed, round_id)) for seed in seeds))
        pipe.execute()
    return round_id


def _seed_entry(seed: Seed, round_id: int) -> dict[str, Any]:
    return {
        "url": seed.url,
        "via": seed.via,
        "related_titles": list(seed.related_titles),
        "lastmod": seed.lastmod.isoformat() if seed.lastmod else None,
        "round": round_id,
    }
