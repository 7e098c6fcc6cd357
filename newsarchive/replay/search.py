"""The app's catalogue of captured pages: a SQLite database with an FTS5 index, fed by the JSONL.

The database is a cache derived from ``articles/*.jsonl``; it lives outside the archive (replay
never writes into the output directory) and is brought up to date incrementally: each JSONL
file is read on from the byte where the last refresh stopped, so a running crawl's new lines
show up without reindexing, and a deleted cache is rebuilt on the next start.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from newsarchive.schedule.changes import CHANGED, is_article

SCHEMA_VERSION = 3
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MARK_START, MARK_END = "\x02", "\x03"
_REFRESH_INTERVAL = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, consumed INTEGER, lines INTEGER);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL, line_no INTEGER NOT NULL, file TEXT NOT NULL,
    url TEXT, final_url TEXT, status INTEGER, fetched_at TEXT,
    title TEXT, text TEXT, has_text INTEGER NOT NULL DEFAULT 0, line TEXT NOT NULL,
    site TEXT NOT NULL DEFAULT '', change TEXT, edit INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, line_no)
);
CREATE INDEX IF NOT EXISTS captures_url ON captures (url, fetched_at);
CREATE INDEX IF NOT EXISTS captures_final_url ON captures (final_url);
CREATE INDEX IF NOT EXISTS captures_run_change ON captures (run_id, change, line_no);
CREATE INDEX IF NOT EXISTS captures_edits ON captures (fetched_at) WHERE edit = 1;
CREATE INDEX IF NOT EXISTS captures_site_edits ON captures (site, fetched_at) WHERE edit = 1;
CREATE TABLE IF NOT EXISTS articles (
    url TEXT PRIMARY KEY, site TEXT NOT NULL, captures INTEGER NOT NULL,
    edits INTEGER NOT NULL, latest_id INTEGER NOT NULL, latest_fetched TEXT
);
CREATE INDEX IF NOT EXISTS articles_site ON articles (site, latest_fetched);
CREATE TABLE IF NOT EXISTS sites (
    site TEXT PRIMARY KEY, articles INTEGER NOT NULL, captures INTEGER NOT NULL,
    edits INTEGER NOT NULL, latest_fetched TEXT
);
CREATE VIRTUAL TABLE IF NOT EXISTS text_index USING fts5(
    title, text, content='captures', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS url_index USING fts5(
    url, final_url, content='captures', content_rowid='id', tokenize='trigram'
);
"""


def default_cache_path(root: Path) -> Path:
    """Where the catalogue of the archive at ``root`` is cached (NEWSARCHIVE_REPLAY_CACHE or
    the user's cache directory), one database per archive."""
    base = os.environ.get("NEWSARCHIVE_REPLAY_CACHE")
    if base:
        cache = Path(base)
    else:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        cache = cache / "newsarchive" / "replay"
    digest = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
    return cache / f"{digest}-v{SCHEMA_VERSION}.sqlite"


@dataclass(frozen=True)
class CaptureRow:
    """One JSONL line as the app lists it; ``line`` is the whole record (text aside)."""

    run_id: str
    line_no: int
    url: str
    final_url: str | None
    status: int | None
    fetched_at: str | None
    title: str | None
    line: dict[str, Any]
    snippet: str | None = None

    @property
    def capture_id(self) -> str:
        return f"{self.run_id}/{self.line_no}"


@dataclass(frozen=True)
class ArticleRow:
    """One article (one URL) across its captures: counts, and its latest capture; a search hit
    also carries the capture whose text matched best and its snippet."""

    url: str
    site: str
    captures: int
    edits: int
    latest: CaptureRow
    matched: CaptureRow | None = None
    snippet: str | None = None


@dataclass(frozen=True)
class SiteRow:
    """One site (a host name): its articles, captures and edits, and its latest capture time."""

    site: str
    articles: int
    captures: int
    edits: int
    latest_fetched: str | None


class Catalogue:
    """Full-text and URL search over every JSONL line of the archive."""

    def __init__(self, articles_dir: Path, db_path: Path):
        self.articles_dir = articles_dir
        self.db_path = db_path
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(db_path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._checked = 0.0
        self._run_counts: dict[str, dict[str, int]] | None = None

    def close(self) -> None:
        self._db.close()

    # -- ingestion -------------------------------------------------------------------------------
    def refresh(self, force: bool = False) -> int:
        """Read what the JSONL files gained since the last refresh; returns lines added."""
        with self._lock:
            if not force and time.monotonic() - self._checked < _REFRESH_INTERVAL:
                return 0
            self._checked = time.monotonic()
            files = sorted(self.articles_dir.glob("*.jsonl")) if self.articles_dir.is_dir() else []
            known = dict(self._db.execute("SELECT name, consumed FROM files").fetchall())
            added = 0
            for path in files:
                if RUN_ID.match(path.stem):
                    added += self._ingest(path, known.get(path.name, 0))
            gone = set(known) - {path.name for path in files}
            for name in gone:
                self._forget(name)
            if gone:
                self._rebuild_fts()
            self._resummarise_if_stale()
            if added or gone:
                self._run_counts = None
            return added

    def _ingest(self, path: Path, consumed: int) -> int:
        size = path.stat().st_size
        if size < consumed:  # rewritten (it should not be): read it again
            self._forget(path.name)
            self._rebuild_fts()
            consumed = 0
        if size == consumed:
            return 0
        with open(path, "rb") as stream:
            stream.seek(consumed)
            data = stream.read(size - consumed)
        complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
        row = self._db.execute("SELECT lines FROM files WHERE name = ?", (path.name,)).fetchone()
        line_no = row[0] if row else 0
        touched: set[str] = set()
        added = 0
        self._db.execute("BEGIN")
        try:
            for raw in complete.splitlines():
                line_no += 1
                url = self._insert(path, line_no, raw) if raw.strip() else None
                if url:
                    touched.add(url)
                    added += 1
            self._summarise(touched)
            self._db.execute(
                "INSERT OR REPLACE INTO files (name, consumed, lines) VALUES (?, ?, ?)",
                (path.name, consumed + len(complete), line_no),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return added

    def _insert(self, path: Path, line_no: int, raw: bytes) -> str | None:
        """Catalogue one JSONL line; returns its URL, or None if it was not a capture."""
        try:
            line = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(line, dict) or not line.get("url") or not isinstance(line["url"], str):
            return None
        text = line.pop("text", "") or ""
        line.pop("html", None)
        change = line.get("change") if isinstance(line.get("change"), str) else None
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO captures (run_id, line_no, file, url, final_url, status,"
            " fetched_at, title, text, has_text, line, site, change, edit)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                path.stem, line_no, path.name, line.get("url"), line.get("final_url"),
                line.get("status"), line.get("fetched_at"), line.get("title"), text,
                int(bool(text)), json.dumps(line, ensure_ascii=False), site_of(line["url"]),
                change, int(is_edit(line, text)),
            ),
        )
        if not cursor.rowcount:
            return None
        self._db.execute(
            "INSERT INTO text_index (rowid, title, text) VALUES (?, ?, ?)",
            (cursor.lastrowid, line.get("title") or "", text),
        )
        self._db.execute(
            "INSERT INTO url_index (rowid, url, final_url) VALUES (?, ?, ?)",
            (cursor.lastrowid, line.get("url") or "", line.get("final_url") or ""),
        )
        return line["url"]

    # One row per article (URL) and per site, kept beside the captures so that the browsing
    # pages read a page of rows instead of grouping 100,000 captures on every view.
    _ARTICLES = (
        "INSERT OR REPLACE INTO articles (url, site, captures, edits, latest_id, latest_fetched)"
        " SELECT url, site, COUNT(*), SUM(edit), id, MAX(fetched_at) FROM captures {where}"
        " GROUP BY url"
    )
    _SITES = (
        "INSERT OR REPLACE INTO sites (site, articles, captures, edits, latest_fetched)"
        " SELECT site, COUNT(*), SUM(captures), SUM(edits), MAX(latest_fetched) FROM articles"
        " {where} GROUP BY site"
    )
    _FULL_SUMMARY = 2000

    def _summarise(self, urls: set[str]) -> None:
        """Bring the article and site rows of these URLs up to date; if many, mark all of them
        stale (in the same transaction as the new lines), to be rewritten at the end of the
        refresh, once for all the files read."""
        if not urls:
            return
        if len(urls) > self._FULL_SUMMARY:
            self._mark_stale()
            return
        wanted = sorted(urls)
        marks = ", ".join("?" for _ in wanted)
        self._db.execute(self._ARTICLES.format(where=f"WHERE url IN ({marks})"), wanted)
        sites = sorted({row[0] for row in self._db.execute(
            f"SELECT DISTINCT site FROM articles WHERE url IN ({marks})", wanted)})
        site_marks = ", ".join("?" for _ in sites)
        self._db.execute(self._SITES.format(where=f"WHERE site IN ({site_marks})"), sites)

    def _mark_stale(self) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('stale', 1)")

    def _resummarise_if_stale(self) -> None:
        if not self._db.execute("SELECT 1 FROM meta WHERE key = 'stale'").fetchone():
            return
        self._db.execute("BEGIN")
        try:
            self._db.execute("DELETE FROM articles")
            self._db.execute("DELETE FROM sites")
            self._db.execute(self._ARTICLES.format(where=""))
            self._db.execute(self._SITES.format(where=""))
            self._db.execute("DELETE FROM meta WHERE key = 'stale'")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _rebuild_fts(self) -> None:
        self._db.execute("INSERT INTO text_index(text_index) VALUES('rebuild')")
        self._db.execute("INSERT INTO url_index(url_index) VALUES('rebuild')")

    def _forget(self, name: str) -> None:
        self._db.execute("DELETE FROM captures WHERE file = ?", (name,))
        self._db.execute("DELETE FROM files WHERE name = ?", (name,))
        self._mark_stale()

    # -- queries ---------------------------------------------------------------------------------
    _COLUMNS = "run_id, line_no, url, final_url, status, fetched_at, title, line"

    def capture(self, run_id: str, line_no: int) -> tuple[CaptureRow, str] | None:
        """A capture and its cleaned text."""
        sql = f"SELECT {self._COLUMNS}, text FROM captures WHERE run_id = ? AND line_no = ?"
        with self._lock:
            row = self._db.execute(sql, (run_id, line_no)).fetchone()
        return (_row(row[:-1]), row[-1] or "") if row else None

    def timeline(self, *urls: str) -> list[CaptureRow]:
        """Every capture of these URLs (requested or final), oldest first."""
        wanted = [u for u in dict.fromkeys(urls) if u]
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        sql = (
            f"SELECT {self._COLUMNS} FROM captures WHERE url IN ({marks})"
            f" OR final_url IN ({marks}) ORDER BY fetched_at, run_id, line_no"
        )
        with self._lock:
            rows = self._db.execute(sql, (*wanted, *wanted)).fetchall()
        return [_row(row) for row in rows]

    # -- browsing: runs, sites, articles, edits --------------------------------------------------
    # Every list is read a page at a time (``offset``, ``limit``) from an index: each page costs
    # the same on an archive of 100,000 captures as on one of ten.
    def run_captures(self, run_id: str, offset: int, limit: int,
                     change: str | None = None) -> list[CaptureRow]:
        """A run's captures in the order it made them (its JSONL line order), all or those
        with this ``change``."""
        where, args = ("run_id = ? AND change = ?", (run_id, change)) if change else (
            "run_id = ?", (run_id,))
        sql = (f"SELECT {self._COLUMNS} FROM captures WHERE {where}"
               " ORDER BY line_no LIMIT ? OFFSET ?")
        return self._rows(sql, (*args, limit, offset))

    def sites(self, offset: int, limit: int) -> list[SiteRow]:
        sql = ("SELECT site, articles, captures, edits, latest_fetched FROM sites"
               " ORDER BY site LIMIT ? OFFSET ?")
        with self._lock:
            rows = self._db.execute(sql, (limit, offset)).fetchall()
        return [SiteRow(*row) for row in rows]

    def site(self, site: str) -> SiteRow | None:
        sql = "SELECT site, articles, captures, edits, latest_fetched FROM sites WHERE site = ?"
        with self._lock:
            row = self._db.execute(sql, (site,)).fetchone()
        return SiteRow(*row) if row else None

    def site_count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM sites").fetchone()[0]

    _ARTICLE_COLUMNS = "a.url, a.site, a.captures, a.edits"

    def site_articles(self, site: str, offset: int, limit: int) -> list[ArticleRow]:
        """A site's articles, the most recently captured first."""
        sql = (
            f"SELECT {self._ARTICLE_COLUMNS}, {_prefixed(self._COLUMNS)} FROM articles a"
            " JOIN captures c ON c.id = a.latest_id WHERE a.site = ?"
            " ORDER BY a.latest_fetched DESC, a.url LIMIT ? OFFSET ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (site, limit, offset)).fetchall()
        return [ArticleRow(*row[:4], latest=_row(row[4:])) for row in rows]

    def articles(self, urls: list[str]) -> dict[str, ArticleRow]:
        if not urls:
            return {}
        marks = ", ".join("?" for _ in urls)
        sql = (
            f"SELECT {self._ARTICLE_COLUMNS}, {_prefixed(self._COLUMNS)} FROM articles a"
            f" JOIN captures c ON c.id = a.latest_id WHERE a.url IN ({marks})"
        )
        with self._lock:
            rows = self._db.execute(sql, urls).fetchall()
        return {row[0]: ArticleRow(*row[:4], latest=_row(row[4:])) for row in rows}

    def captures_of(self, url: str, limit: int) -> list[CaptureRow]:
        """The latest captures of one URL, newest first."""
        sql = (f"SELECT {self._COLUMNS} FROM captures WHERE url = ?"
               " ORDER BY fetched_at DESC, id DESC LIMIT ?")
        return self._rows(sql, (url, limit))

    def edits(self, offset: int, limit: int, site: str | None = None) -> list[CaptureRow]:
        """Captures whose article text changed since the previous capture, newest first."""
        where, args = ("edit = 1 AND site = ?", (site,)) if site else ("edit = 1", ())
        sql = (f"SELECT {self._COLUMNS} FROM captures WHERE {where}"
               " ORDER BY fetched_at DESC, id DESC LIMIT ? OFFSET ?")
        return self._rows(sql, (*args, limit, offset))

    def edit_count(self, site: str | None = None) -> int:
        where, args = ("edit = 1 AND site = ?", (site,)) if site else ("edit = 1", ())
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM captures WHERE {where}",
                                    args).fetchone()[0]

    def previous(self, row: CaptureRow) -> tuple[CaptureRow, str] | None:
        """The capture ``row`` was compared with when its ``change`` was judged (its
        ``previous``), else the latest earlier capture of its URL with text; and its text."""
        before = row.line.get("previous")
        found = None
        if isinstance(before, dict) and before.get("run_id") and before.get("fetched_at"):
            found = self._with_text(
                f"SELECT {self._COLUMNS}, text FROM captures WHERE url = ? AND fetched_at = ?"
                " AND run_id = ? LIMIT 1", (row.url, before["fetched_at"], before["run_id"]))
        return found or self._with_text(
            f"SELECT {self._COLUMNS}, text FROM captures WHERE url = ? AND fetched_at < ?"
            " AND has_text = 1 ORDER BY fetched_at DESC, id DESC LIMIT 1",
            (row.url, row.fetched_at or ""),
        )

    def text_of(self, row: CaptureRow) -> str:
        found = self.capture(row.run_id, row.line_no)
        return found[1] if found else ""

    def search_articles(self, query: str, offset: int, limit: int) -> list[ArticleRow]:
        """Full-text search, one hit per article (URL): ranked by its best-matching capture."""
        match = fts_query(query)
        if not match:
            return []
        with self._lock:
            best = self._best_per_url(match, offset + limit)[offset:offset + limit]
            ids = [capture_id for _url, capture_id in best]
            marks = ", ".join("?" for _ in ids)
            snippets = self._db.execute(
                f"SELECT text_index.rowid, {_prefixed(self._COLUMNS)},"
                " snippet(text_index, 1, ?, ?, ' … ', 24) FROM text_index"
                " JOIN captures c ON c.id = text_index.rowid"
                f" WHERE text_index MATCH ? AND text_index.rowid IN ({marks})",
                (MARK_START, MARK_END, match, *ids),
            ).fetchall()
        matched = {row[0]: (_row(row[1:-1]), row[-1]) for row in snippets}
        articles = self.articles([url for url, _id in best])
        hits = []
        for url, capture_id in best:
            if url in articles and capture_id in matched:
                row, snippet = matched[capture_id]
                hits.append(replace(articles[url], matched=row, snippet=snippet))
        return hits

    def _best_per_url(self, match: str, wanted: int) -> list[tuple[str, int]]:
        """(URL, capture id) of the best-ranked capture of each URL, best first, at least
        ``wanted`` of them when there are: read from a window of the ranked matches, widened
        until it holds enough URLs (grouping every match in SQL costs as much again as ranking
        them). Of equal ranks (the same text), the latest capture."""
        window = max(wanted * 4, 40)
        while True:
            rows = self._db.execute(
                "SELECT r.rowid, c.url, r.rank FROM (SELECT rowid, rank FROM text_index"
                " WHERE text_index MATCH ? ORDER BY rank LIMIT ?) r"
                " JOIN captures c ON c.id = r.rowid ORDER BY r.rank",
                (match, window),
            ).fetchall()
            best: dict[str, tuple[float, int]] = {}
            for capture_id, url, rank in rows:  # best rank first
                kept = best.get(url)
                if kept is None or (rank == kept[0] and capture_id > kept[1]):
                    best[url] = (rank, capture_id)
            if len(best) >= wanted or len(rows) < window:
                return [(url, capture_id) for url, (_rank, capture_id) in best.items()]
            window *= 4

    def search_url_articles(self, fragment: str, offset: int, limit: int) -> list[ArticleRow]:
        """Search by any part of the URL (requested or final), one hit per article."""
        fragment = fragment.strip()
        if not fragment:
            return []
        if len(fragment) >= 3:
            sql = (
                "SELECT DISTINCT c.url FROM url_index JOIN captures c ON c.id = url_index.rowid"
                " WHERE url_index MATCH ? ORDER BY c.url LIMIT ? OFFSET ?"
            )
            args: tuple = ('"' + fragment.replace('"', '""') + '"', limit, offset)
        else:
            pattern = like_pattern(fragment)
            sql = (
                "SELECT DISTINCT url FROM captures WHERE url LIKE ? ESCAPE '\\'"
                " OR final_url LIKE ? ESCAPE '\\' ORDER BY url LIMIT ? OFFSET ?"
            )
            args = (pattern, pattern, limit, offset)
        with self._lock:
            urls = [row[0] for row in self._db.execute(sql, args).fetchall()]
        articles = self.articles(urls)
        return [articles[url] for url in urls if url in articles]

    def _rows(self, sql: str, args: tuple) -> list[CaptureRow]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_row(row) for row in rows]

    def _with_text(self, sql: str, args: tuple) -> tuple[CaptureRow, str] | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return (_row(row[:-1]), row[-1] or "") if row else None

    def run_counts(self) -> dict[str, dict[str, int]]:
        """Pages per run (all, OK, failed, with text, new, changed, unchanged, edits);
        recomputed only after new lines."""
        sql = (
            "SELECT run_id, COUNT(*), SUM(status >= 200 AND status < 400),"
            " SUM(status IS NULL OR status >= 400), SUM(has_text), SUM(change = 'new'),"
            " SUM(change = 'changed'), SUM(change = 'unchanged'), SUM(edit)"
            " FROM captures GROUP BY run_id"
        )
        with self._lock:
            if self._run_counts is not None:
                return self._run_counts
            rows = self._db.execute(sql).fetchall()
            self._run_counts = self._counts(rows)
            return self._run_counts

    @staticmethod
    def _counts(rows: list[tuple]) -> dict[str, dict[str, int]]:
        names = ("pages", "ok", "failed", "with_text", "new", "changed", "unchanged", "edits")
        return {run: {name: value or 0 for name, value in zip(names, values, strict=True)}
                for run, *values in rows}

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM captures").fetchone()[0]


def fts_query(text: str) -> str:
    """User words as an FTS5 query: each word a quoted term (no operator syntax), all required."""
    words = re.findall(r"\w[\w'’-]*", text)
    return " ".join('"' + word.replace('"', '""') + '"' for word in words[:20])


def like_pattern(fragment: str) -> str:
    """``%fragment%`` for ``LIKE ... ESCAPE '\\'``, the fragment's wildcards taken literally."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]/?#]*\]|[^:/?#]*)")


def site_of(url: str) -> str:
    """The site an article belongs to: its URL's host name, lower case, without port (as
    ``urlsplit(url).hostname``; a regular expression: it runs on every line catalogued)."""
    match = _HOST.match(url)
    return match[1].strip("[]").lower() if match else ""


def is_edit(line: dict[str, Any], text: str) -> bool:
    """Whether a capture is an edit of an article: its text changed since the previous capture
    (``change`` of a scheduled run), and it is an article, not a listing (docs/jsonl.md)."""
    return line.get("change") == CHANGED and bool(text) and is_article(line.get("page_type"))


def _prefixed(columns: str) -> str:
    return ", ".join(f"c.{name.strip()}" for name in columns.split(","))


def _row(row: tuple, snippet: str | None = None) -> CaptureRow:
    run_id, line_no, url, final_url, status, fetched_at, title, line = row
    return CaptureRow(
        run_id, line_no, url, final_url, status, fetched_at, title, json.loads(line), snippet
    )
