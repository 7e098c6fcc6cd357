"""``newsarchive verify -o DIR``: check that the archive is whole and consistent.

Every WARC file is read record by record (:mod:`newsarchive.store.warcscan`): gzip framing, record
length, block and payload digests, a warcinfo record first. An unreadable record (a flipped byte,
a torn write) is one problem naming its file, offset and what failed; the scan resynchronises at
the next whole record, and the pointers into the damage are counted in that one problem. Then,
across files: every request pairs with its response, every revisit/conversion/metadata
``WARC-Refers-To`` target exists, record ids are unique. Every JSONL line must be valid schema-1
JSON whose pointers name real records; every CDXJ line must point at a real record with its URL
and length, and every indexable record must be indexed. Record facts go to a temporary SQLite
file, so memory stays bounded however big the archive is. Exit 0 when all is well, 1 with one
line per problem on stdout otherwise.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from newsarchive.capture.warc_writer import OPEN_SUFFIX
from newsarchive.store.cdxj import (
    INDEX_NAME,
    INDEXED_TYPES,
    SERVER_NOT_MODIFIED,
    parse_index_line,
)
from newsarchive.store.jsonl import JSONL_SCHEMA
from newsarchive.store.layout import Layout
from newsarchive.store.recovery import writer_is_alive
from newsarchive.store.repair import PENDING_PREFIX, run_of
from newsarchive.store.runlock import LOCK_NAME
from newsarchive.store.warcscan import Damage, ScannedRecord, scan_with_damage

MAX_PRINTED = 1000
BATCH = 1000
REFERRING_TYPES = ("revisit", "conversion", "metadata")
VIA_VALUES = {"seed", "related-title", "related-link", "feed", "sitemap", "requisite"}
CHANGE_VALUES = {"new", "changed", "unchanged"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
# key -> accepted JSON types of a schema-1 line
REQUIRED_FIELDS: dict[str, tuple[type, ...]] = {
    "schema": (int,),
    "run_id": (str,),
    "url": (str,),
    "final_url": (str, type(None)),
    "status": (int, type(None)),
    "error": (str, type(None)),
    "fetched_at": (str,),
    "via": (str,),
    "seed": (str,),
    "referrer": (str, type(None)),
    "depth": (int,),
    "text": (str,),
    "extraction_error": (str, type(None)),
    "payload_digest": (str, type(None)),
    "text_digest": (str, type(None)),
    "change": (str,),
    "warc": (dict,),
}

_SCHEMA_SQL = """
CREATE TABLE records (
    file TEXT, offset INTEGER, length INTEGER, id TEXT, type TEXT, uri TEXT,
    payload_digest TEXT, concurrent_to TEXT, refers_to TEXT, profile TEXT,
    last_in_file INTEGER DEFAULT 0, indexed INTEGER DEFAULT 0, damaged INTEGER DEFAULT 0,
    PRIMARY KEY (file, offset)
) WITHOUT ROWID;
"""


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problem_count: int = 0
    warc_files: int = 0
    records: int = 0
    jsonl_lines: int = 0
    index_lines: int = 0
    damage: list[DamageFound] = field(default_factory=list)

    def problem(self, where: str, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PRINTED:
            self.problems.append(f"{where}: {message}")

    def summary(self) -> str:
        counts = (
            f"{self.warc_files} WARC file(s), {self.records} records, "
            f"{self.jsonl_lines} JSONL lines, {self.index_lines} index lines"
        )
        if not self.problem_count:
            return f"newsarchive verify: OK: {counts}"
        return f"newsarchive verify: {self.problem_count} problem(s) in {counts}"


@dataclass
class DamageFound:
    """An unreadable stretch of a WARC file, and how many pointers lead into it."""

    file: str
    damage: Damage
    pointers: dict[str, int] = field(default_factory=dict)  # kind -> count
    lost_ids: set[str] = field(default_factory=set)  # ids the JSONL gives for records in it
    lost_uris: set[str] = field(default_factory=set)  # URLs the index gives for records in it

    def covers(self, name: str, offset: int) -> bool:
        """Whether a pointer to ``name@offset`` leads into it (or past a file's torn end)."""
        inside = offset < self.damage.end or self.damage.at_end
        return name == self.file and self.damage.offset <= offset and inside

    def count(self, kind: str) -> None:
        self.pointers[kind] = self.pointers.get(kind, 0) + 1

    def describe(self) -> str:
        counted = ", ".join(f"{count} {kind}" for kind, count in self.pointers.items())
        return self.damage.describe() + (f"; {counted} lead into it" if counted else "")


def verify(root: Path) -> Verification:
    layout = Layout(root)
    result = Verification()
    with tempfile.TemporaryDirectory(prefix="newsarchive-verify-") as tmp:
        db = sqlite3.connect(Path(tmp) / "records.sqlite")
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA_SQL)
        live_runs = _check_unfinished(layout, result)
        _scan_warcs(layout, db, result)
        db.execute("CREATE INDEX records_id ON records(id)")
        db.execute("CREATE INDEX records_concurrent ON records(concurrent_to)")
        _check_jsonl(layout, db, result, live_runs)
        _check_index(layout, db, result)
        _check_links(db, result)  # last: links to records lost in damage are known by then
        db.close()
    for found in result.damage:  # last: with the pointers into it counted
        result.problem(f"warc/{found.file}@{found.damage.offset}", found.describe())
    return result


def _damage_at(
    result: Verification, name: str, offset: int, kind: str, record_id: str = "", url: str = ""
) -> bool:
    """Whether a pointer leads into an unreadable record (then counted there, not reported)."""
    for found in result.damage:
        if found.covers(name, offset):
            found.count(kind)
            found.lost_ids |= {record_id} - {""}
            found.lost_uris |= {url} - {""}
            return True
    return False


def _lost_link(result: Verification, target: str | None, uri: str) -> bool:
    """Whether a link's missing target is a record lost in damage (then counted there)."""
    for found in result.damage:
        if (target and target in found.lost_ids) or uri in found.lost_uris:
            found.count("WARC link(s)")
            return True
    return False


# -- WARC files ----------------------------------------------------------------------------------
def running_run(layout: Layout) -> str | None:
    """The run id of a crawl holding the output's run lock right now, if any."""
    try:
        fd = os.open(layout.state / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
            except ValueError:
                holder = {}
            return str(holder.get("run_id") or "")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def workers_running(layout: Layout) -> bool:
    """Whether distributed workers (``crawl --redis``) hold the output's lock: they hold it
    shared, so an exclusive try fails while a shared one succeeds."""
    try:
        fd = os.open(layout.state / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def unfinished_runs(layout: Layout) -> set[str]:
    """Run ids whose manifest says they have not finished (running, or killed)."""
    runs = set()
    for path in layout.runs.glob("*.json") if layout.runs.is_dir() else ():
        try:
            if json.loads(path.read_text()).get("finished") is None:
                runs.add(path.stem)
        except (OSError, ValueError):
            continue
    return runs


def _check_unfinished(layout: Layout, result: Verification) -> set[str]:
    live: set[str] = set()
    running = running_run(layout)
    if running is not None:
        live.add(running)
        result.notes.append(f"a crawl (run {running or 'unknown'}) is writing to this archive: "
                            "its unfinished files are not checked")
    elif workers_running(layout):  # on any host: every unfinished run may be a live worker
        live |= unfinished_runs(layout)
        result.notes.append("distributed workers (crawl --redis) are writing to this archive: "
                            "the files of unfinished runs are not checked")
    for path in sorted(layout.warc.glob(f"*{OPEN_SUFFIX}")) if layout.warc.is_dir() else ():
        where = f"warc/{path.name}"
        if writer_is_alive(path) or run_of(path) in live:
            live.add(run_of(path))
            result.notes.append(f"{where} is being written by a running crawl: not checked")
        else:
            result.problem(where, "unfinished WARC file of a killed run (run `newsarchive repair`)")
    pending = sorted(layout.index.glob(f"{PENDING_PREFIX}*.cdxj")) if layout.index.is_dir() else []
    for path in pending:
        run_id = path.name[len(PENDING_PREFIX) : -len(".cdxj")]
        if run_id not in live:
            result.problem(f"index/{path.name}", "index lines of a killed run never merged "
                           "(run `newsarchive repair`)")
    return live


def _scan_warcs(layout: Layout, db: sqlite3.Connection, result: Verification) -> None:
    if not layout.warc.is_dir():
        return
    for path in sorted(layout.warc.glob("*.warc.gz")):
        result.warc_files += 1
        rows: list[tuple] = []
        last: tuple[str, int] | None = None
        for record in _records(path, result):
            if isinstance(record, Damage):
                result.damage.append(DamageFound(path.name, record))
                rows.append(_damaged_row(path.name, record))
                continue
            result.records += 1
            if record.offset == 0 and record.rec_type != "warcinfo":
                result.problem(f"warc/{path.name}", "does not start with a warcinfo record")
            _check_digests(path.name, record, result)
            rows.append(_row(path.name, record))
            last = (path.name, record.offset)
            if len(rows) >= BATCH:
                _insert(db, rows, path.name, result)
        _insert(db, rows, path.name, result)
        if last is not None:
            db.execute("UPDATE records SET last_in_file=1 WHERE file=? AND offset=?", last)
    db.commit()


def _records(path: Path, result: Verification) -> Iterator[ScannedRecord | Damage]:
    where = f"warc/{path.name}"
    try:
        with open(path, "rb") as stream:
            yield from scan_with_damage(stream)
    except OSError as exc:
        result.problem(where, f"cannot read: {exc.strerror or exc}")


def _check_digests(name: str, record: ScannedRecord, result: Verification) -> None:
    where = f"warc/{name}@{record.offset}"
    declared = record.get("WARC-Block-Digest")
    if declared and declared.startswith("sha1:") and declared != record.block_digest:
        result.problem(where, f"{record.rec_type} block digest mismatch ({record.target_uri})")
    declared = record.get("WARC-Payload-Digest")
    if (
        declared
        and declared.startswith("sha1:")
        and record.payload_digest is not None
        and declared != record.payload_digest
    ):
        result.problem(where, f"{record.rec_type} payload digest mismatch ({record.target_uri})")
    if not record.record_id:
        result.problem(where, "record without WARC-Record-ID")
    if record.decoding and len(result.notes) < MAX_PRINTED:
        # archived as the server sent it (the digests agree): replay shows what decodes
        result.notes.append(f"{where}: response for {record.target_uri}: payload does not "
                            f"decode as its Content-Encoding ({record.decoding})")


def _row(name: str, record: ScannedRecord) -> tuple:
    return (
        name,
        record.offset,
        record.length,
        record.record_id,
        record.rec_type,
        record.target_uri,
        record.get("WARC-Payload-Digest"),
        record.get("WARC-Concurrent-To"),
        record.get("WARC-Refers-To"),
        record.get("WARC-Profile"),
    )


def _damaged_row(name: str, damage: Damage) -> tuple:
    """What is known of an unreadable record: pointers to it and links by its id resolve to it
    (they are counted in its one problem), and it is never a subject of the link checks."""
    return (
        name,
        damage.offset,
        damage.end - damage.offset,
        damage.get("WARC-Record-ID") or "",
        damage.get("WARC-Type") or "",
        damage.get("WARC-Target-URI") or "",
        damage.get("WARC-Payload-Digest"),
        damage.get("WARC-Concurrent-To"),
        damage.get("WARC-Refers-To"),
        damage.get("WARC-Profile"),
        1,
    )


def _insert(db: sqlite3.Connection, rows: list[tuple], name: str, result: Verification) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO records VALUES (?,?,?,?,?,?,?,?,?,?,0,0,?)",
        [row if len(row) == 11 else (*row, 0) for row in rows],
    )
    rows.clear()


def _next_to_unknown_damage(db: sqlite3.Connection, result: Verification) -> set[tuple[str, int]]:
    """The records right before and after an unreadable record whose headers could not be
    read: their request/response partner may be that record, so their pairing is not checked."""
    places: set[tuple[str, int]] = set()
    for found in result.damage:
        if found.damage.headers:
            continue
        start, end = found.damage.offset, found.damage.end
        places |= set(db.execute(
            "SELECT file, offset FROM records WHERE file=? AND damaged=0 "
            "AND (offset + length = ? OR offset = ?)", (found.file, start, end)
        ))  # fmt: skip
    return places


def _check_links(db: sqlite3.Connection, result: Verification) -> None:
    excused = _next_to_unknown_damage(db, result)
    for record_id, count in db.execute(
        "SELECT id, COUNT(*) FROM records WHERE id != '' GROUP BY id HAVING COUNT(*) > 1"
    ):
        result.problem(record_id, f"record id used by {count} records")
    for name, offset, uri, target in db.execute(
        "SELECT r.file, r.offset, r.uri, r.concurrent_to FROM records r WHERE r.type='request' "
        "AND r.damaged=0 AND NOT EXISTS (SELECT 1 FROM records s WHERE s.id = r.concurrent_to "
        "AND s.type IN ('response', 'revisit'))"
    ):
        if (name, offset) in excused or _lost_link(result, target, uri):
            continue
        result.problem(f"warc/{name}@{offset}", f"request for {uri} pairs with no response "
                       f"(WARC-Concurrent-To {target})")
    for name, offset, uri, last in db.execute(
        "SELECT r.file, r.offset, r.uri, r.last_in_file FROM records r WHERE r.type='response' "
        "AND r.damaged=0 AND NOT EXISTS "
        "(SELECT 1 FROM records q WHERE q.type='request' AND q.concurrent_to=r.id)"
    ):
        if (name, offset) in excused:
            continue
        if last:  # the writer puts the request right after: only a kill between them does this
            result.notes.append(f"warc/{name}@{offset}: response for {uri} lost its request "
                                "(the run was killed between the two)")
        else:
            result.problem(f"warc/{name}@{offset}", f"response for {uri} has no request record")
    placeholders = ",".join("?" * len(REFERRING_TYPES))
    for name, offset, rec_type, target in db.execute(
        f"SELECT r.file, r.offset, r.type, r.refers_to FROM records r "
        f"WHERE r.type IN ({placeholders}) AND r.damaged=0 AND (r.refers_to IS NULL OR NOT EXISTS "
        f"(SELECT 1 FROM records s WHERE s.id = r.refers_to))",
        REFERRING_TYPES,
    ):
        if rec_type != "revisit" and target is None:
            continue  # conversion/metadata records may stand alone
        if _lost_link(result, target, ""):
            continue
        result.problem(f"warc/{name}@{offset}", f"{rec_type} refers to missing record {target}")


# -- JSONL ---------------------------------------------------------------------------------------
# label -> record types a JSONL pointer under that label may name
POINTER_TYPES = {
    "warc.response": ("response", "revisit"),
    "warc.text": ("conversion",),
    "previous": ("response", "revisit"),
}
_POINTER_KEYS = {"file", "offset", "length", "record_id"}


def _check_jsonl(
    layout: Layout, db: sqlite3.Connection, result: Verification, live_runs: set[str]
) -> None:
    if not layout.articles.is_dir():
        return
    db.execute("CREATE TABLE pointers (place TEXT, label TEXT, file TEXT, offset INTEGER, "
               "length INTEGER, id TEXT, line_digest TEXT)")
    rows: list[tuple] = []
    for path in sorted(layout.articles.glob("*.jsonl")):
        if path.stem in live_runs:
            continue
        with open(path, "rb") as stream:
            for number, raw in enumerate(stream, 1):
                result.jsonl_lines += 1
                where = f"articles/{path.name}:{number}"
                if not raw.endswith(b"\n"):
                    result.problem(where, "torn last line (run `newsarchive repair`)")
                    break
                rows.extend(_line_pointers(where, raw, result))
                if len(rows) >= BATCH:
                    db.executemany("INSERT INTO pointers VALUES (?,?,?,?,?,?,?)", rows)
                    rows.clear()
    db.executemany("INSERT INTO pointers VALUES (?,?,?,?,?,?,?)", rows)
    _resolve_pointers(db, result)


def _line_pointers(where: str, raw: bytes, result: Verification) -> list[tuple]:
    """Check one line's JSON and schema; return its record pointers for resolving in bulk."""
    try:
        line = json.loads(raw)
    except ValueError as exc:
        result.problem(where, f"not valid JSON: {exc}")
        return []
    if not isinstance(line, dict):
        result.problem(where, "not a JSON object")
        return []
    for problem in schema_problems(line):
        result.problem(where, problem)
    warc = line.get("warc") if isinstance(line.get("warc"), dict) else {}
    found = []
    for label, pointer in (
        ("warc.response", warc.get("response")),
        ("warc.text", warc.get("text")),
        ("previous", line.get("previous")),
    ):
        if pointer is None:
            continue
        if not isinstance(pointer, dict) or not _POINTER_KEYS <= pointer.keys():
            result.problem(where, f"{label} is not a pointer {{file, offset, length, record_id}}")
            continue
        digest = line.get("payload_digest") if label == "warc.response" else None
        found.append((where, label, str(pointer["file"]), pointer["offset"], pointer["length"],
                      pointer["record_id"], digest))
    return found


def _resolve_pointers(db: sqlite3.Connection, result: Verification) -> None:
    query = (
        "SELECT p.place, p.label, p.file, p.offset, p.length, p.id, p.line_digest, "
        "r.length, r.id, r.type, r.payload_digest, r.damaged FROM pointers p "
        "LEFT JOIN records r ON r.file = p.file AND r.offset = p.offset ORDER BY p.rowid"
    )
    for where, label, name, offset, length, pid, digest, *record in db.execute(query):
        rlength, rid, rtype, rdigest, damaged = record
        if (rid is None or damaged) and _damage_at(
            result, name, offset, "JSONL pointer(s)", record_id=str(pid)
        ):
            continue
        if rid is None:
            result.problem(where, f"{label} points at no record ({name}@{offset})")
            continue
        if rlength != length or rid != pid:
            result.problem(where, f"{label} length or record id does not match the record there")
        if rtype not in POINTER_TYPES[label]:
            result.problem(where, f"{label} points at a {rtype} record")
        if digest is not None and rdigest is not None and digest != rdigest:
            result.problem(where, "payload_digest differs from the response record's")


def schema_problems(line: dict[str, Any]) -> list[str]:
    problems = []
    for key, types in REQUIRED_FIELDS.items():
        if key not in line:
            problems.append(f"missing field {key!r}")
        elif not isinstance(line[key], types) or isinstance(line[key], bool):
            problems.append(f"field {key!r} has the wrong type ({type(line[key]).__name__})")
    if line.get("schema") != JSONL_SCHEMA:
        problems.append(f"schema is {line.get('schema')!r}, expected {JSONL_SCHEMA}")
    if isinstance(line.get("via"), str) and line["via"] not in VIA_VALUES:
        problems.append(f"unknown via {line['via']!r}")
    if isinstance(line.get("change"), str) and line["change"] not in CHANGE_VALUES:
        problems.append(f"unknown change {line['change']!r}")
    if isinstance(line.get("fetched_at"), str) and not ISO_Z.match(line["fetched_at"]):
        problems.append(f"fetched_at {line['fetched_at']!r} is not ISO 8601 UTC")
    if isinstance(line.get("warc"), dict) and not {"response", "text"} <= line["warc"].keys():
        problems.append("warc needs both 'response' and 'text' (null when absent)")
    return problems


# -- CDXJ ----------------------------------------------------------------------------------------
def _check_index(layout: Layout, db: sqlite3.Connection, result: Verification) -> None:
    index_path = layout.index / INDEX_NAME
    db.execute("CREATE TABLE idx (number INTEGER, file TEXT, offset INTEGER, length INTEGER, "
               "url TEXT)")
    if index_path.exists():
        _load_index(index_path, db, result)
    db.execute("CREATE INDEX idx_place ON idx(file, offset)")
    query = (
        "SELECT i.number, i.file, i.offset, i.length, i.url, r.length, r.uri, r.damaged FROM idx i "
        "LEFT JOIN records r ON r.file = i.file AND r.offset = i.offset ORDER BY i.number"
    )
    for number, name, offset, length, url, rlength, ruri, damaged in db.execute(query):
        where = f"index/{INDEX_NAME}:{number}"
        if (rlength is None or damaged) and _damage_at(
            result, name, offset, "index line(s)", url=url
        ):
            continue
        if rlength is None:
            result.problem(where, f"points at no record ({name}@{offset})")
            continue
        if rlength != length:
            result.problem(where, f"length {length} differs from the record's {rlength}")
        if ruri != url:
            result.problem(where, f"url {url} differs from the record's {ruri}")
    db.execute("UPDATE records SET indexed=1 WHERE EXISTS "
               "(SELECT 1 FROM idx i WHERE i.file = records.file AND i.offset = records.offset)")
    placeholders = ",".join("?" * len(INDEXED_TYPES))
    for name, offset, uri in db.execute(
        f"SELECT file, offset, uri FROM records WHERE indexed=0 AND damaged=0 "
        f"AND type IN ({placeholders}) "
        "AND NOT (type='revisit' AND IFNULL(profile, '')=?)",
        (*INDEXED_TYPES, SERVER_NOT_MODIFIED),
    ):
        result.problem(f"warc/{name}@{offset}", f"record for {uri} is not in the index "
                       "(run `newsarchive index` or `newsarchive repair`)")


def _load_index(index_path: Path, db: sqlite3.Connection, result: Verification) -> None:
    rows: list[tuple] = []
    with open(index_path, encoding="utf-8", errors="replace") as index:
        previous = ""
        for number, raw in enumerate(index, 1):
            line = raw.rstrip("\n")
            if not line or line.startswith("!"):
                continue
            result.index_lines += 1
            where = f"index/{INDEX_NAME}:{number}"
            if line < previous:
                result.problem(where, "index is not sorted")
            previous = line
            row = _index_row(number, line)
            if row is None:
                result.problem(where, "not a CDXJ line with filename, offset, length and url")
                continue
            rows.append(row)
            if len(rows) >= BATCH:
                db.executemany("INSERT INTO idx VALUES (?,?,?,?,?)", rows)
                rows.clear()
    db.executemany("INSERT INTO idx VALUES (?,?,?,?,?)", rows)


def _index_row(number: int, line: str) -> tuple | None:
    entry = parse_index_line(line)
    if entry is None:
        return None
    fields = entry.fields
    try:
        return (number, str(fields["filename"]), int(fields["offset"]), int(fields["length"]),
                fields["url"])
    except (ValueError, KeyError, TypeError):
        return None
