"""The request fingerprint filter of distributed crawls, one expiring Redis set per seed round."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis
from scrapy.http import Request
from scrapy_redis.dupefilter import RFPDupeFilter

from newsarchive.base.meta import ROUND_META_KEY
from newsarchive.config import Config
from newsarchive.distributed.connection import RedisKeys, connect

if TYPE_CHECKING:
    from typing import Self

    from scrapy.settings import BaseSettings

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

