"""Cross-run crawl state: what each URL looked like when it was last fetched and archived.

Two kinds of entries, both keyed by URL:

- :class:`FetchState`, per URL fetched (every redirect hop, robots.txt, feeds): validators for
  conditional requests, the payload digest and the last *full* capture (a ``response`` record),
  which revisit records refer to; written by the capture middleware as soon as the records are.
- :class:`ArticleState`, per candidate article (the JSONL ``url``): its last JSONL line's digests
  and WARC pointers, for change tracking, and the count of unchanged captures in a row, for the
  revisit back-off; written by the archive pipeline with the JSONL line.

:class:`StateStore` is the interface the crawl uses; :class:`SqliteStateStore` the embedded
default (``output/state/state.sqlite``). A distributed crawl (``crawl --redis``) puts
:class:`newsarchive.distributed.state.RedisStateStore` behind the same protocol.
Which class serves which ``NEWSARCHIVE_STATE`` kind is the ``NEWSARCHIVE_STATE_STORES`` setting.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from scrapy.utils.misc import load_object

from newsarchive.capture.warc_writer import RecordPointer, WrittenRecord

if TYPE_CHECKING:
    from typing import Self

    from newsarchive.config import Config

STATE_FILE = "state.sqlite"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class FetchState:
    url: str
    run_id: str  # run of the last fetch
    fetched_at: str  # WARC-Date of the last fetch
    status: int | None
    etag: str | None
    last_modified: str | None
    payload_digest: str | None  # of the last full capture
    last_record: WrittenRecord  # what the last fetch wrote (response or revisit)
    full_capture: WrittenRecord  # the last response record: what revisits refer to


@dataclass(frozen=True)
class ArticleState:
    url: str
    run_id: str
    fetched_at: str
    payload_digest: str | None
    text_digest: str | None
    response: RecordPointer | None  # the line's warc.response
    text: RecordPointer | None  # the line's warc.text (conversion record)
    unchanged_runs: int = 0  # consecutive unchanged captures
    changed_at: str | None = None  # fetched_at of the last capture judged new or changed
    page_type: str | None = None  # the line's page_type: article, listing, other (or None)

    def as_previous(self) -> dict[str, Any] | None:
        """The JSONL ``previous`` pointer: this capture's response (or revisit) record, with
        when and by which run it was made and where its text is (docs/jsonl.md)."""
        if self.response is None:
            return None
        return {
            **self.response.as_dict(),
            "run_id": self.run_id,
            "fetched_at": self.fetched_at,
            "text_digest": self.text_digest,
            "text": self.text.as_dict() if self.text else None,
        }


class StateStore(Protocol):
    def get_fetch(self, url: str) -> FetchState | None: ...

    def put_fetch(self, state: FetchState) -> None: ...

    def get_article(self, url: str) -> ArticleState | None: ...

    def put_article(self, state: ArticleState) -> None: ...

    def close(self) -> None: ...


class NullStateStore:
    """No memory across runs (NEWSARCHIVE_STATE = "none"): every page is new."""

    @classmethod
    def from_config(cls, config: Config, state_dir: Path) -> Self:
        return cls()

    def get_fetch(self, url: str) -> FetchState | None:
        return None

    def put_fetch(self, state: FetchState) -> None:
        pass

    def get_article(self, url: str) -> ArticleState | None:
        return None

    def put_article(self, state: ArticleState) -> None:
        pass

    def close(self) -> None:
        pass


class SqliteStateStore:
    """State in one SQLite file (WAL mode: a reader such as a monitoring script never blocks
    the crawl). Each put is its own transaction, so a killed run loses nothing it reported."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._migrate()

    @classmethod
    def from_config(cls, config: Config, state_dir: Path) -> Self:
        return cls(state_dir / STATE_FILE)

    def _migrate(self) -> None:
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS fetches (url TEXT PRIMARY KEY, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS articles (url TEXT PRIMARY KEY, data TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """
        )
        self._db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),)
        )

    def get_fetch(self, url: str) -> FetchState | None:
        data = self._get("fetches", url)
        return fetch_state_from(data) if data else None

    def put_fetch(self, state: FetchState) -> None:
        self._put("fetches", state.url, asdict(state))

    def get_article(self, url: str) -> ArticleState | None:
        data = self._get("articles", url)
        return article_state_from(data) if data else None

    def put_article(self, state: ArticleState) -> None:
        self._put("articles", state.url, asdict(state))

    def close(self) -> None:
        self._db.close()

    def _get(self, table: str, url: str) -> dict[str, Any] | None:
        row = self._db.execute(f"SELECT data FROM {table} WHERE url = ?", (url,)).fetchone()
        return json.loads(row[0]) if row else None

    def _put(self, table: str, url: str, data: dict[str, Any]) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO {table} (url, data) VALUES (?, ?)",
            (url, json.dumps(data, ensure_ascii=False)),
        )


def open_state_store(config: Config, state_dir: Path) -> StateStore:
    """The state store of ``config.state``: the class NEWSARCHIVE_STATE_STORES names for it."""
    stores = dict(config.state_stores)
    if config.state not in stores:
        known = ", ".join(sorted(stores))
        raise ValueError(f"unknown NEWSARCHIVE_STATE {config.state!r} ({known})")
    return load_object(stores[config.state]).from_config(config, state_dir)


def _pointer(data: dict[str, Any] | None) -> RecordPointer | None:
    return RecordPointer(**data) if data else None


def _written(data: dict[str, Any]) -> WrittenRecord:
    return WrittenRecord(**{**data, "pointer": RecordPointer(**data["pointer"])})


def fetch_state_from(data: dict[str, Any]) -> FetchState:
    """A FetchState from its JSON document (fields it does not know are ignored)."""
    known = {f.name for f in fields(FetchState)}
    data = {key: value for key, value in data.items() if key in known}
    data["last_record"] = _written(data["last_record"])
    data["full_capture"] = _written(data["full_capture"])
    return FetchState(**data)


def article_state_from(data: dict[str, Any]) -> ArticleState:
    """An ArticleState from its JSON document (fields it does not know are ignored)."""
    known = {f.name for f in fields(ArticleState)}
    data = {key: value for key, value in data.items() if key in known}
    data["response"] = _pointer(data.get("response"))
    data["text"] = _pointer(data.get("text"))
    return ArticleState(**data)
