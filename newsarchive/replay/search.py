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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
MARK_START, MARK_END = "\x02", "\x03"
_REFRESH_INTERVAL = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, consumed INTEGER, lines INTEGER);
CREATE TABLE IF NOT EXISTS captures (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL, line_no INTEGER NOT NULL, file TEXT NOT NULL,
    url TEXT, final_url TEXT, status INTEGER, fetched_at TEXT,
    title TEXT, text TEXT, has_text INTEGER NOT NULL DEFAULT 0, line TEXT NOT NULL,
    UNIQUE (run_id, line_no)
);
CREATE INDEX IF NOT EXISTS captures_url ON captures (url);
CREATE INDEX IF NOT EXISTS captures_final_url ON captures (final_url);
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
        added = 0
        self._db.execute("BEGIN")
        try:
            for raw in complete.splitlines():
                line_no += 1
                if raw.strip():
                    added += self._insert(path, line_no, raw)
            self._db.execute(
                "INSERT OR REPLACE INTO files (name, consumed, lines) VALUES (?, ?, ?)",
                (path.name, consumed + len(complete), line_no),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return added

    def _insert(self, path: Path, line_no: int, raw: bytes) -> int:
        try:
            line = json.loads(raw)
        except ValueError:
            return 0
        if not isinstance(line, dict) or not line.get("url"):
            return 0
        text = line.pop("text", "") or ""
        line.pop("html", None)
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO captures (run_id, line_no, file, url, final_url, status,"
            " fetched_at, title, text, has_text, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                path.stem, line_no, path.name, line.get("url"), line.get("final_url"),
                line.get("status"), line.get("fetched_at"), line.get("title"), text,
                int(bool(text)), json.dumps(line, ensure_ascii=False),
            ),
        )
        if not cursor.rowcount:
            return 0
        self._db.execute(
            "INSERT INTO text_index (rowid, title, text) VALUES (?, ?, ?)",
            (cursor.lastrowid, line.get("title") or "", text),
        )
        self._db.execute(
            "INSERT INTO url_index (rowid, url, final_url) VALUES (?, ?, ?)",
            (cursor.lastrowid, line.get("url") or "", line.get("final_url") or ""),
        )
        return 1

    def _rebuild_fts(self) -> None:
        self._db.execute("INSERT INTO text_index(text_index) VALUES('rebuild')")
        self._db.execute("INSERT INTO url_index(url_index) VALUES('rebuild')")

    def _forget(self, name: str) -> None:
        self._db.execute("DELETE FROM captures WHERE file = ?", (name,))
        self._db.execute("DELETE FROM files WHERE name = ?", (name,))

    # -- queries ---------------------------------------------------------------------------------
    _COLUMNS = "run_id, line_no, url, final_url, status, fetched_at, title, line"

    def search_text(self, query: str, limit: int = 50) -> list[CaptureRow]:
        match = fts_query(query)
        if not match:
            return []
        sql = (
            f"SELECT {_prefixed(self._COLUMNS)}, snippet(text_index, 1, ?, ?, ' … ', 24)"
            " FROM text_index JOIN captures c ON c.id = text_index.rowid"
            " WHERE text_index MATCH ? ORDER BY rank LIMIT ?"
        )
        with self._lock:
            rows = self._db.execute(sql, (MARK_START, MARK_END, match, limit)).fetchall()
        return [_row(row[:-1], snippet=row[-1]) for row in rows]

    def search_url(self, fragment: str, limit: int = 100) -> list[CaptureRow]:
        fragment = fragment.strip()
        if not fragment:
            return []
        if len(fragment) >= 3:  # trigram index: any substring of the URL, case-insensitive
            sql = (
                f"SELECT {_prefixed(self._COLUMNS)} FROM url_index"
                " JOIN captures c ON c.id = url_index.rowid WHERE url_index MATCH ?"
                " ORDER BY c.url, c.fetched_at DESC LIMIT ?"
            )
            args: tuple = ('"' + fragment.replace('"', '""') + '"', limit)
        else:
            pattern = "%" + fragment.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            sql = (
                f"SELECT {self._COLUMNS} FROM captures WHERE url LIKE ? ESCAPE '\\'"
                " OR final_url LIKE ? ESCAPE '\\' ORDER BY url, fetched_at DESC LIMIT ?"
            )
            args = (pattern, pattern, limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_row(row) for row in rows]

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

    def run_counts(self) -> dict[str, dict[str, int]]:
        """Pages per run (all, OK, failed, with text); recomputed only after new lines."""
        sql = (
            "SELECT run_id, COUNT(*), SUM(status >= 200 AND status < 400),"
            " SUM(status IS NULL OR status >= 400), SUM(has_text)"
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
        return {
            run: {"pages": pages, "ok": ok or 0, "failed": failed or 0, "with_text": texts or 0}
            for run, pages, ok, failed, texts in rows
        }

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM captures").fetchone()[0]


def fts_query(text: str) -> str:
    """User words as an FTS5 query: each word a quoted term (no operator syntax), all required."""
    words = re.findall(r"\w[\w'’-]*", text)
    return " ".join('"' + word.replace('"', '""') + '"' for word in words[:20])


def _prefixed(columns: str) -> str:
    return ", ".join(f"c.{name.strip()}" for name in columns.split(","))


def _row(row: tuple, snippet: str | None = None) -> CaptureRow:
    run_id, line_no, url, final_url, status, fetched_at, title, line = row
    return CaptureRow(
        run_id, line_no, url, final_url, status, fetched_at, title, json.loads(line), snippet
    )
