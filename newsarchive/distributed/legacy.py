"""Distributed crawls on a shared Redis, with scrapy-redis (docs/distributed.md).

```
newsarchive seed  --redis redis://HOST:6379/0 SEED...   # push seeds into the shared frontier
newsarchive crawl --redis redis://HOST:6379/0 -o DIR     # a worker (any number, any machine)
newsarchive index -o DIR                                 # one index of every worker's WARCs
```

What is shared, all under the key prefix ``NEWSARCHIVE_REDIS_PREFIX`` (default ``newsarchive``):

- ``<prefix>:seeds``: a list of JSON seeds, read by :class:`DistributedArticlesSpider`
  through scrapy-redis's ``RedisMixin`` (an atomic LRANGE+LTRIM per batch);
- ``<prefix>:requests``: the frontier, scrapy-redis's ``Scheduler`` with its priority queue
  (``SCHEDULER_PERSIST``: a worker that stops or dies leaves what is queued for the others);
- ``<prefix>:fingerprints:<round>``: the request fingerprints of one *round* (one ``seed``
  command and everything it leads to), :class:`RoundDupeFilter`, a scrapy-redis
  ``RFPDupeFilter`` keyed per round and expiring ``NEWSARCHIVE_REDIS_FINGERPRINT_TTL`` after
  its last use: the filter never grows without bound across scheduled runs, and a later
  round fetches updated articles again as the revisit policy says;
- ``<prefix>:state:fetches`` / ``:state:articles``: the cross-run state
  (:class:`RedisStateStore`), so every worker makes the same revisit and change decisions;
- ``<prefix>:scope:domains`` / ``:scope:seed-hosts``: the crawl scope the seeds imply;
- ``<prefix>:runs:<run_id>``: reserved worker run ids, unique across all machines.

Each worker is a run of its own: its run id, JSONL file and manifest; WARC files named by host,
pid, time and serial. Nothing a worker writes can collide with another's in a shared directory.

Compatibility with Scrapy 2.19 (scrapy-redis 0.9.1): the Scheduler and the dupefilter work
(the engine checks schedulers structurally; scrapy-redis fingerprints requests itself);
:class:`Scheduler` only drops the ``spider`` argument of its stats calls, deprecated now.
``RedisMixin.spider_idle`` measures idleness from the time its class was imported, so a
worker that crawled longer than ``MAX_IDLE_TIME_BEFORE_CLOSE`` would quit at its first idle
moment; :meth:`DistributedArticlesSpider.spider_idle` replaces it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as RedisScheduler
from scrapy_redis.spiders import RedisMixin
from twisted.internet import task

from newsarchive.base.urls import registered_domain, url_host
from newsarchive.crawl.seeds import Seed, load_seeds
from newsarchive.store.archive import Archive, Layout, new_run_id
from newsarchive.store.state import ArticleState, FetchState, _article_from, _fetch_from
from spiders.articles import TITLES_META_KEY, ArticlesSpider

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

ROUND_META_KEY = "newsarchive_round"  # the seed round a request descends from
LEDGER_META_KEY = "newsarchive_ledger"  # the request's entry in its worker's in-flight hash
RUN_ID_TTL = 7 * 86400  # seconds a reserved run id stays reserved (ids carry their time)
EXIT_OK, EXIT_FATAL, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


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


def redact_url(url: str) -> str:
    """The URL without its password (for manifests, warcinfo records and messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***@" if parts.username else ":***@"
    host = parts.hostname or ""
    netloc = f"{user}{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def worker_settings(url: str, prefix: str) -> dict[str, object]:
    """The Scrapy settings that make a crawl a worker of the shared frontier."""
    keys = RedisKeys(prefix)
    return {
        "NEWSARCHIVE_REDIS_URL": url,
        "NEWSARCHIVE_REDIS_PREFIX": prefix,
        "NEWSARCHIVE_STATE": "redis",
        "REDIS_URL": url,
        "SCHEDULER": "newsarchive.distributed.legacy.Scheduler",
        "SCHEDULER_PERSIST": True,  # what is queued outlives every worker
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,  # never block the reactor on BRPOP
        "SCHEDULER_QUEUE_KEY": keys.requests,
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "DUPEFILTER_CLASS": "newsarchive.distributed.legacy.RoundDupeFilter",
        "REDIS_START_URLS_KEY": keys.seeds,
        "JOBDIR": None,  # the frontier is in Redis, not on this machine's disk
    }


# Pop the best request and note it as in flight for this worker, atomically: a worker killed
# at any moment has every request it took either still queued or in its in-flight hash.
_POP_AND_NOTE = """
local found = redis.call('ZRANGE', KEYS[1], 0, 0)
if not found[1] then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('HSET', KEYS[2], redis.sha1hex(found[1]), found[1])
return found[1]
"""


class Scheduler(RedisScheduler):
    """scrapy-redis's Scheduler with an in-flight ledger, so a killed worker loses nothing.

    scrapy-redis removes a request from the shared queue when a worker takes it: a worker
    killed mid-crawl would lose every request it was downloading or parsing. Here taking a
    request also notes it in ``<prefix>:inflight:<run_id>`` (one Lua script), and the note is
    removed once the engine is done with it (response parsed, items through the pipelines,
    follow-up requests queued). A live worker refreshes ``<prefix>:alive:<run_id>`` every
    ``NEWSARCHIVE_REDIS_POLL``; when that key has expired (``NEWSARCHIVE_REDIS_HEARTBEAT_TTL``)
    the next idle worker claims the dead one's ledger (RENAME: one claimant) and queues its
    requests again. A worker stopped gracefully finishes what it took (Scrapy's graceful stop);
    anything still noted when it closes is queued again.

    Stats are counted without the ``spider`` argument Scrapy 2.19 deprecates.
    """

    crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        scheduler = super().from_crawler(crawler)
        scheduler.crawler = crawler
        return scheduler

    def open(self, spider: Any) -> None:
        super().open(spider)
        if not isinstance(self.queue, PriorityQueue):  # the Lua script pops from a sorted set
            raise ValueError("newsarchive's Scheduler needs scrapy_redis.queue.PriorityQueue")
        config = Archive.of(self.crawler).config
        self.keys = RedisKeys(config.redis_prefix)
        self.worker = Archive.of(self.crawler).run_id
        self.alive_ttl = max(1, int(config.redis_heartbeat_ttl))
        self._pop = self.server.register_script(_POP_AND_NOTE)
        self.server.sadd(self.keys.workers, self.worker)
        self.heartbeat()
        self._watch_engine()
        self.reclaim_dead()

    def _watch_engine(self) -> None:
        """Learn when the engine is done with a request (private to Scrapy's engine: the
        slot's ``remove_request`` runs after the response went through the spider and its
        items through the pipelines)."""
        slot = self.crawler.engine._slot
        remove = slot.remove_request

        def remove_request(request: Request) -> None:
            remove(request)
            self.done(request)

        slot.remove_request = remove_request

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.queue.push(request)
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        data = self._pop(keys=[self.queue.key, self.keys.inflight(self.worker)])
        if not data:
            return None
        request = self.queue._decode_request(data)
        request.meta[LEDGER_META_KEY] = hashlib.sha1(data).hexdigest()
        if self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def done(self, request: Request) -> None:
        note = request.meta.get(LEDGER_META_KEY)
        if note:
            self.server.hdel(self.keys.inflight(self.worker), note)

    def heartbeat(self) -> None:
        self.server.set(self.keys.alive(self.worker), os.getpid(), ex=self.alive_ttl)

    def others_in_flight(self) -> int:
        """Requests other workers (live, or dead and not yet reclaimed) have taken."""
        workers = [_text(w) for w in self.server.smembers(self.keys.workers)]
        return sum(self.server.hlen(self.keys.inflight(w)) for w in workers if w != self.worker)

    def reclaim_dead(self) -> int:
        """Queue again what dead workers had in flight; returns how many requests."""
        requeued = 0
        for worker in (_text(w) for w in self.server.smembers(self.keys.workers)):
            if worker == self.worker or self.server.exists(self.keys.alive(worker)):
                continue
            requeued += self._requeue(worker)
            self.server.srem(self.keys.workers, worker)
        if requeued:
            logger.warning("queued again %d request(s) a dead worker had in flight", requeued)
            if self.stats:
                self.stats.inc_value("scheduler/reclaimed/redis", requeued)
        return requeued

    def _requeue(self, worker: str) -> int:
        claimed = f"{self.keys.inflight(worker)}:claimed-by:{self.worker}"
        try:
            self.server.rename(self.keys.inflight(worker), claimed)
        except redis.ResponseError:  # no such key: nothing in flight, or claimed by another
            return 0
        entries = self.server.hvals(claimed)
        for data in entries:
            self.queue.push(self.queue._decode_request(data))
        self.server.delete(claimed)
        return len(entries)

    def close(self, reason: str) -> None:
        super().close(reason)
        self._requeue(self.worker)  # a graceful stop leaves its unfinished requests queued
        self.server.delete(self.keys.alive(self.worker))
        self.server.srem(self.keys.workers, self.worker)


# -- cross-run state -------------------------------------------------------------------------
class RedisStateStore:
    """The StateStore protocol (newsarchive.store.state) on two Redis hashes keyed by URL, holding
    the same JSON documents as the SQLite store. Each put is one HSET: a worker killed after a
    put has reported it to every other worker."""

    def __init__(self, server: redis.Redis, keys: RedisKeys):
        self.server = server
        self.keys = keys

    @classmethod
    def from_url(cls, url: str, prefix: str = "newsarchive") -> RedisStateStore:
        return cls(connect(url), RedisKeys(prefix))

    def get_fetch(self, url: str) -> FetchState | None:
        data = self.server.hget(self.keys.fetches, url)
        return _fetch_from(json.loads(data)) if data else None

    def put_fetch(self, state: FetchState) -> None:
        self.server.hset(self.keys.fetches, state.url, json.dumps(asdict(state)))

    def get_article(self, url: str) -> ArticleState | None:
        data = self.server.hget(self.keys.articles, url)
        return _article_from(json.loads(data)) if data else None

    def put_article(self, state: ArticleState) -> None:
        self.server.hset(self.keys.articles, state.url, json.dumps(asdict(state)))

    def close(self) -> None:
        self.server.close()


# -- the fingerprint filter, per round -------------------------------------------------------
class RoundDupeFilter(RFPDupeFilter):
    """scrapy-redis's fingerprint filter with one Redis set per seed round.

    A request's round is in its meta (seeds get it from ``newsarchive seed``, everything else
    inherits it: :class:`RoundMiddleware`, and redirects and retries copy meta). Each set
    expires ``ttl`` seconds after it was last added to, and is never cleared by a worker.
    """

    def __init__(self, server: redis.Redis, keys: RedisKeys, ttl: float, debug: bool = False):
        super().__init__(server, key=keys.fingerprints("*"), debug=debug)
        self.keys = keys
        self.ttl = max(1, int(ttl))

    @classmethod
    def from_spider(cls, spider: Any) -> Self:
        return cls.from_settings(spider.settings)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Self:
        from newsarchive.config import Config

        config = Config.from_settings(settings)
        server = connect(config.redis_url or settings.get("REDIS_URL"))
        return cls(server, RedisKeys(config.redis_prefix), config.redis_fingerprint_ttl,
                   settings.getbool("DUPEFILTER_DEBUG"))

    def request_seen(self, request: Request) -> bool:
        key = self.keys.fingerprints(self.round_of(request))
        with self.server.pipeline(transaction=True) as pipe:
            pipe.sadd(key, self.request_fingerprint(request))
            pipe.expire(key, self.ttl)
            added, _ = pipe.execute()
        return added == 0

    def round_of(self, request: Request) -> str:
        found = request.meta.get(ROUND_META_KEY)
        if found is None:
            found = self.server.get(self.keys.round) or b"0"
        return found.decode() if isinstance(found, bytes) else str(found)

    def clear(self) -> None:
        """Fingerprints are shared with other workers: they expire, never cleared by one."""


def fingerprint(url: str) -> str:
    """scrapy-redis's fingerprint of a plain GET of ``url``."""
    return RFPDupeFilter.request_fingerprint(None, Request(url))  # type: ignore[arg-type]


class RoundMiddleware:
    """Spider middleware: requests a page leads to (links, requisites, feed entries) belong to
    the page's seed round. Placed near the engine, after RequisitesMiddleware."""

    def process_spider_output(
        self, response: Response, result: Iterable[Any]
    ) -> Iterator[Any]:
        round_id = response.meta.get(ROUND_META_KEY)
        for entry in result:
            yield _with_round(entry, round_id)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any]
    ) -> AsyncIterator[Any]:
        round_id = response.meta.get(ROUND_META_KEY)
        async for entry in result:
            yield _with_round(entry, round_id)


def _with_round(entry: Any, round_id: Any) -> Any:
    if round_id is not None and isinstance(entry, Request):
        entry.meta.setdefault(ROUND_META_KEY, round_id)
    return entry


# -- seeds -----------------------------------------------------------------------------------
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


def run_seed(args: argparse.Namespace) -> int:
    """``newsarchive seed --redis URL SEED...``"""
    seeds, warnings = load_seeds(args.seeds)
    for warning in warnings:
        print(f"newsarchive seed: {warning}", file=sys.stderr)
    if not seeds:
        print("newsarchive seed: no usable seed: nothing pushed", file=sys.stderr)
        return EXIT_FATAL
    pairs = getattr(args, "settings", None) or []
    prefix = _option(pairs, "NEWSARCHIVE_REDIS_PREFIX")
    ttl = _fingerprint_ttl(_option(pairs, "NEWSARCHIVE_REDIS_FINGERPRINT_TTL"))
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


def _option(pairs: list[str], wanted: str) -> str:
    """The value of ``-s wanted=VALUE``, else newsarchive.settings' default."""
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name.strip() == wanted and value:
            return value
    from newsarchive import settings

    return str(getattr(settings, wanted))


def _fingerprint_ttl(value: str | None = None) -> float:
    from newsarchive.config import parse_duration

    return parse_duration(value or _option([], "NEWSARCHIVE_REDIS_FINGERPRINT_TTL"))


# -- the worker's spider ---------------------------------------------------------------------
class DistributedArticlesSpider(RedisMixin, ArticlesSpider):
    """The ``articles`` spider fed from the shared seed list instead of its arguments.

    Seeds are popped in batches (``RedisMixin.next_requests``) when the worker starts and
    whenever it is idle; the scope (allowed domains, seed hosts) is the union of every pushed
    round's, read again with every batch.
    """

    name = "articles"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.keys = RedisKeys(spider.config.redis_prefix)
        spider.redis_key = spider.keys.seeds
        spider.setup_redis(crawler)
        spider.max_idle_time = spider.config.redis_idle_close
        spider.idle_since = None
        spider.heartbeat = None
        crawler.signals.connect(spider.worker_opened, signal=signals.spider_opened)
        crawler.signals.connect(spider.worker_busy, signal=signals.response_received)
        spider.refresh_scope()
        return spider

    async def start(self) -> AsyncIterator[Request]:
        for request in self.next_requests():
            yield request

    def next_requests(self) -> list[Request]:  # type: ignore[override]
        requests = list(super().next_requests())
        if requests:
            self.refresh_scope()
        return requests

    def make_request_from_data(self, data: bytes) -> list[Request]:
        entry = json.loads(data)
        url, via = entry["url"], entry.get("via") or "seed"
        self.archive.seeds.append(url)
        self.archive.stats.seeds_total += 1
        self.seed_urls.add(url)
        meta: dict[str, Any] = {ROUND_META_KEY: entry.get("round")}
        if via != "seed":  # an entry of a feed or sitemap file: the revisit policy decides
            lastmod = datetime.fromisoformat(entry["lastmod"]) if entry.get("lastmod") else None
            if not self._due(url, lastmod):
                self.archive.stats.seeds_archived += 1
                return []
        else:
            meta[TITLES_META_KEY] = tuple(entry.get("related_titles") or ())
        # Always fetched: `seed` put its fingerprint in the round's filter for links to it.
        return [self._request(url, via=via, seed=url, referrer=None, meta=meta, dont_filter=True)]

    def refresh_scope(self) -> None:
        domains = {_text(value) for value in self.server.smembers(self.keys.domains)}
        domains.update(self.config.allowed_domains)
        self.allowed_domains = sorted(domains | set(self.allowed_domains or ()))
        self.seed_hosts.update(_text(value) for value in self.server.smembers(self.keys.seed_hosts))

    def worker_opened(self) -> None:
        # An idle worker looks at the shared frontier at every engine heartbeat (5 s in
        # Scrapy); other workers fill it, so look more often. Private to Scrapy's engine.
        self.crawler.engine._SLOT_HEARTBEAT_INTERVAL = self.config.redis_poll
        self.heartbeat = task.LoopingCall(self.crawler.engine._slot.scheduler.heartbeat)
        self.heartbeat.start(self.config.redis_poll)
        self.crawler.signals.connect(self.worker_closed, signal=signals.spider_closed)

    def worker_closed(self) -> None:
        if self.heartbeat.running:
            self.heartbeat.stop()

    def worker_busy(self) -> None:
        self.idle_since = None

    def spider_idle(self) -> None:
        """Take more seeds, and what dead workers left in flight; close once the frontier and
        the seed list stayed empty, and no other worker had anything in flight, for
        ``NEWSARCHIVE_REDIS_IDLE_CLOSE`` (0: never)."""
        requests = self.next_requests()
        for request in requests:
            self.crawler.engine.crawl(request)
        scheduler = self.crawler.engine._slot.scheduler
        busy = scheduler.reclaim_dead() or scheduler.others_in_flight()
        now = time.monotonic()
        if requests or busy or self.idle_since is None:
            self.idle_since = now
        if self.max_idle_time and now - self.idle_since >= self.max_idle_time:
            logger.info("frontier empty for %.0f s: worker closing", now - self.idle_since)
            return
        raise DontCloseSpider


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# -- the worker command ----------------------------------------------------------------------
def reserve_run_id(server: redis.Redis, keys: RedisKeys) -> str:
    """A run id no other worker of this Redis has (SET NX), so JSONL files and manifests of
    workers never collide, even when their output is gathered from several machines."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    while True:
        run_id = new_run_id()
        if server.set(keys.run(run_id), owner, nx=True, ex=RUN_ID_TTL):
            return run_id


def run_worker(args: argparse.Namespace) -> int:
    """``newsarchive crawl --redis URL -o DIR [SEED...]``: one worker of the shared frontier
    (seeds given here are pushed first, as by ``newsarchive seed``)."""
    from newsarchive.cli import UsageError, _check_writable, crawl_settings
    from newsarchive.store.runlock import RunLock, RunLocked

    if args.resume:
        print("newsarchive crawl: --resume does not apply with --redis: the frontier is kept in "
              "Redis; start a worker again", file=sys.stderr)
        return EXIT_USAGE
    try:
        overrides = crawl_settings(args)
    except UsageError as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    prefix = _option(args.settings, "NEWSARCHIVE_REDIS_PREFIX")
    overrides = {**worker_settings(args.redis, prefix), **overrides, "NEWSARCHIVE_SEEDS": []}
    problem = _check_writable(args.output)
    if problem:
        print(f"newsarchive crawl: {problem}", file=sys.stderr)
        return EXIT_FATAL
    server = connect(args.redis)
    try:
        server.ping()
        if args.seeds and not _push_cli_seeds(args.seeds, server, prefix, overrides):
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
                               wait=args.wait_lock, shared=True)
    except RunLocked as exc:
        print(f"newsarchive crawl: {exc}", file=sys.stderr)
        return EXIT_FATAL
    try:
        return _run_worker_spider(overrides)
    finally:
        lock.release()


def _push_cli_seeds(
    args: list[str], server: redis.Redis, prefix: str, overrides: dict[str, object]
) -> bool:
    seeds, warnings = load_seeds(args)
    for warning in warnings:
        print(f"newsarchive crawl: {warning}", file=sys.stderr)
    if not seeds:
        print("newsarchive crawl: no usable seed: nothing to push", file=sys.stderr)
        return False
    ttl = _fingerprint_ttl(str(overrides.get("NEWSARCHIVE_REDIS_FINGERPRINT_TTL") or "") or None)
    push_seeds(server, RedisKeys(prefix), seeds, ttl)
    return True


def _run_worker_spider(overrides: dict[str, object]) -> int:
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "newsarchive.settings")
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.project import get_project_settings

    settings = get_project_settings()
    settings.setdict(overrides, priority="cmdline")
    middlewares = dict(settings.getdict("SPIDER_MIDDLEWARES"))
    middlewares["newsarchive.distributed.legacy.RoundMiddleware"] = 50
    settings.set("SPIDER_MIDDLEWARES", middlewares, priority="cmdline")
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(DistributedArticlesSpider)
    process.crawl(crawler)
    process.start()
    archive = Archive.of(crawler)
    fatal = getattr(archive, "fatal", None)
    if fatal is not None:
        print(f"newsarchive crawl: {fatal}; stopped", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_PARTIAL if archive.stats.seeds_failed else EXIT_OK

