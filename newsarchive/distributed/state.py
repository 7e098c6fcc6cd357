"""Cross-run state shared by every worker, on Redis hashes (the StateStore protocol)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import redis

from newsarchive.distributed.connection import RedisKeys, connect
from newsarchive.store.state import ArticleState, FetchState, article_state_from, fetch_state_from

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Self

    from newsarchive.config import Config


# -- cross-run state -------------------------------------------------------------------------
class RedisStateStore:
    """The StateStore protocol (newsarchive.store.state) on two Redis hashes keyed by URL, holding
    the same JSON documents as the SQLite store. Each put is one HSET: a worker killed after a
    put has reported it to every other worker."""

    def __init__(self, server: redis.Redis, keys: RedisKeys):
        self.server = server
        self.keys = keys

    @classmethod
    def from_url(cls, url: str, prefix: str = "newsarchive") -> Self:
        return cls(connect(url), RedisKeys(prefix))

    @classmethod
    def from_config(cls, config: Config, state_dir: Path) -> Self:
        if not config.redis_url:
            raise ValueError("NEWSARCHIVE_STATE redis needs NEWSARCHIVE_REDIS_URL")
        return cls.from_url(config.redis_url, config.redis_prefix)

    def get_fetch(self, url: str) -> FetchState | None:
        data = self.server.hget(self.keys.fetches, url)
        return fetch_state_from(json.loads(data)) if data else None

    def put_fetch(self, state: FetchState) -> None:
        self.server.hset(self.keys.fetches, state.url, json.dumps(asdict(state)))

    def get_article(self, url: str) -> ArticleState | None:
        data = self.server.hget(self.keys.articles, url)
        return article_state_from(json.loads(data)) if data else None

    def put_article(self, state: ArticleState) -> None:
        self.server.hset(self.keys.articles, state.url, json.dumps(asdict(state)))

    def close(self) -> None:
        self.server.close()


