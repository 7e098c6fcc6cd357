"""Redis for distributed crawls: the key names under the prefix, the connection, the worker
settings that make a crawl a worker of the shared frontier, and run ids reserved across workers."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import redis

from newsarchive.store.layout import new_run_id

RUN_ID_TTL = 7 * 86400  # seconds a reserved run id stays reserved (ids carry their time)


# -- Redis keys and connection ---------------------------------------------------------------
@dataclass(frozen=True)
class RedisKeys:
    prefix: str = "newsarchive"

    @property
    def seeds(self) -> str:
        return f"{self.prefix}:seeds"

    @property
    def requests(self) -> str:
        return f"{self.prefix}:requests"

    @property
    def round(self) -> str:
        return f"{self.prefix}:round"

    @property
    def domains(self) -> str:
        return f"{self.prefix}:scope:domains"

    @property
    def seed_hosts(self) -> str:
        return f"{self.prefix}:scope:seed-hosts"

    @property
    def fetches(self) -> str:
        return f"{self.prefix}:state:fetches"

    @property
    def articles(self) -> str:
        return f"{self.prefix}:state:articles"

    def fingerprints(self, round_id: int | str) -> str:
        return f"{self.prefix}:fingerprints:{round_id}"

    def run(self, run_id: str) -> str:
        return f"{self.prefix}:runs:{run_id}"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    def inflight(self, run_id: str) -> str:
        return f"{self.prefix}:inflight:{run_id}"

    def alive(self, run_id: str) -> str:
        return f"{self.prefix}:alive:{run_id}"


def connect(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, socket_timeout=30, socket_connect_timeout=10, retry_on_timeout=True
    )



def worker_settings(url: str, prefix: str) -> dict[str, object]:
    """The Scrapy settings that make a crawl a worker of the shared frontier."""
    keys = RedisKeys(prefix)
    return {
        "NEWSARCHIVE_REDIS_URL": url,
        "NEWSARCHIVE_REDIS_PREFIX": prefix,
        "NEWSARCHIVE_STATE": "redis",
        "REDIS_URL": url,
        "SCHEDULER": "newsarchive.distributed.scheduler.Scheduler",
        "SCHEDULER_PERSIST": True,  # what is queued outlives every worker
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,  # never block the reactor on BRPOP
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "DUPEFILTER_CLASS": "newsarchive.distributed.dupefilter.RoundDupeFilter",
        "REDIS_START_URLS_KEY": keys.seeds,
        "JOBDIR": None,  # the frontier is in Redis, not on this machine's disk
    }


# Pop the best request and note it as in flight for this worker, atomically: a worker killed

def reserve_run_id(server: redis.Redis, keys: RedisKeys) -> str:
    """A run id no other worker of this Redis has (SET NX), so JSONL files and manifests of
    workers never collide, even when their output is gathered from several machines."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    while True:
        run_id = new_run_id()
        if server.set(keys.run(run_id), owner, nx=True, ex=RUN_ID_TTL):
            return run_id




def as_text(value: bytes | str) -> str:
    """A Redis reply as text."""
    return value.decode() if isinstance(value, bytes) else value
