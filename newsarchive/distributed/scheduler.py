"""The shared frontier: scrapy-redis's Scheduler with an in-flight ledger and a heartbeat."""

from __future__ import annotations

import hashlib
import logging
import os
from typing import TYPE_CHECKING, Any

import redis
from scrapy.http import Request
from scrapy.utils.request import request_from_dict
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as RedisScheduler
from twisted.internet import task

from newsarchive.base.meta import LEDGER_META_KEY
from newsarchive.compat.scrapy import on_request_finished
from newsarchive.distributed.connection import RedisKeys, as_text
from newsarchive.store.archive import Archive

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

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
    anything still noted when it closes is queued again. Learning when the engine is done with a
    request reaches into Scrapy's engine (newsarchive.compat.scrapy.on_request_finished); with
    ``NEWSARCHIVE_REDIS_INFLIGHT_LEDGER`` off, or a Scrapy outside the verified versions, nothing
    is noted and requests are taken as scrapy-redis takes them.

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
        self.ledger = on_request_finished(self.crawler, self.done, config.redis_inflight_ledger)
        self.server.sadd(self.keys.workers, self.worker)
        self.heartbeat()
        self._beat = task.LoopingCall(self.heartbeat)
        self._beat.start(config.redis_poll, now=False)
        self.reclaim_dead()

    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        self.queue.push(request)
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        request = self._pop_and_note() if self.ledger else self.queue.pop()
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def _pop_and_note(self) -> Request | None:
        data = self._pop(keys=[self.queue.key, self.keys.inflight(self.worker)])
        if not data:
            return None
        request = self.decode(data)
        request.meta[LEDGER_META_KEY] = hashlib.sha1(data).hexdigest()
        return request

    def decode(self, data: bytes) -> Request:
        """A request as the queue stored it (its serializer's dict, as scrapy-redis decodes)."""
        return request_from_dict(self.queue.serializer.loads(data), spider=self.spider)

    def done(self, request: Request) -> None:
        note = request.meta.get(LEDGER_META_KEY)
        if note:
            self.server.hdel(self.keys.inflight(self.worker), note)

    def heartbeat(self) -> None:
        self.server.set(self.keys.alive(self.worker), os.getpid(), ex=self.alive_ttl)

    def others_in_flight(self) -> int:
        """Requests other workers (live, or dead and not yet reclaimed) have taken."""
        workers = [as_text(w) for w in self.server.smembers(self.keys.workers)]
        return sum(self.server.hlen(self.keys.inflight(w)) for w in workers if w != self.worker)

    def reclaim_dead(self) -> int:
        """Queue again what dead workers had in flight; returns how many requests."""
        requeued = 0
        for worker in (as_text(w) for w in self.server.smembers(self.keys.workers)):
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
            self.queue.push(self.decode(data))
        self.server.delete(claimed)
        return len(entries)

    def close(self, reason: str) -> None:
        if self._beat.running:
            self._beat.stop()
        super().close(reason)
        self._requeue(self.worker)  # a graceful stop leaves its unfinished requests queued
        self.server.delete(self.keys.alive(self.worker))
        self.server.srem(self.keys.workers, self.worker)


