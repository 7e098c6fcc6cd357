"""The worker's spider: the articles crawl fed from the shared seed list."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request
from scrapy_redis.spiders import RedisMixin

from newsarchive.base.meta import ROUND_META_KEY, TITLES_META_KEY
from newsarchive.compat.scrapy import engine_scheduler, poll_idle_engine
from newsarchive.crawl.spider import BaseArticlesSpider
from newsarchive.distributed.connection import RedisKeys, as_text

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

# -- the worker's spider ---------------------------------------------------------------------
class DistributedArticlesSpider(RedisMixin, BaseArticlesSpider):
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
        domains = {as_text(value) for value in self.server.smembers(self.keys.domains)}
        domains.update(self.config.allowed_domains)
        self.allowed_domains = sorted(domains | set(self.allowed_domains or ()))
        hosts = self.server.smembers(self.keys.seed_hosts)
        self.seed_hosts.update(as_text(value) for value in hosts)

    def worker_opened(self) -> None:
        # An idle worker looks at the shared frontier at every engine heartbeat (5 s in
        # Scrapy); other workers fill it, so look more often (NEWSARCHIVE_REDIS_ENGINE_POLL).
        poll_idle_engine(self.crawler, self.config.redis_poll, self.config.redis_engine_poll)

    def worker_busy(self) -> None:
        self.idle_since = None

    def spider_idle(self) -> None:
        """Take more seeds, and what dead workers left in flight; close once the frontier and
        the seed list stayed empty, and no other worker had anything in flight, for
        ``NEWSARCHIVE_REDIS_IDLE_CLOSE`` (0: never)."""
        requests = self.next_requests()
        for request in requests:
            self.crawler.engine.crawl(request)
        scheduler = engine_scheduler(self.crawler)
        busy = scheduler is not None and (scheduler.reclaim_dead() or scheduler.others_in_flight())
        now = time.monotonic()
        if requests or busy or self.idle_since is None:
            self.idle_since = now
        if self.max_idle_time and now - self.idle_since >= self.max_idle_time:
            logger.info("frontier empty for %.0f s: worker closing", now - self.idle_since)
            return
        raise DontCloseSpider




