"""CDXJ index lines (pywb-compatible) and the sorted, merge-only index file.

A line is ``<SURT> <yyyymmddhhmmss> {json}``. Responses, revisits and the ``urn:`` conversion and
metadata records are indexed; request and warcinfo records are not, and neither are
server-not-modified revisits: pywb would replay them as an empty 304 (see design.md).
"""

from __future__ import annotations

import fcntl
import heapq
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import surt
from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord

from newsarchive.capture.warc_writer import (
    OPEN_SUFFIX,
    RecordPointer,
    WrittenRecord,
    describe_record,
)
from newsarchive.store.warcscan import ScannedRecord, scan_with_damage

INDEXED_TYPES = ("response", "revisit", "resource", "conversion", "metadata")
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
INDEX_NAME = "index.cdxj"
REVISIT_MIME = "warc/revisit"  # the mime of a revisit's line
MERGE_LOCK_NAME = ".merge.lock"
_merge_locks: dict[Path, int] = {}  # index dir -> depth, for this process's nested holders


def url_key(url: str) -> str:
    try:
        return surt.surt(url)
    except Exception:  # surt rejects some urn: and odd URLs; index them verbatim
        return url


def timestamp14(warc_date: str) -> str:
    return "".join(ch for ch in warc_date if ch.isdigit())[:14]


def cdxj_line(record: WrittenRecord, profile: str | None = None) -> str | None:
    """The index line for a written record, or None when it is not indexed."""
    if record.rec_type not in INDEXED_TYPES or profile == SERVER_NOT_MODIFIED:
        return None
    fields: dict[str, object] = {"url": record.target_uri}
    mime = REVISIT_MIME if record.rec_type == "revisit" else record.mime
    if mime:
        fields["mime"] = mime
    if record.status is not None:
        fields["status"] = str(record.status)
    if record.payload_digest:
        fields["digest"] = record.payload_digest
    fields["length"] = str(record.pointer.length)
    fields["offset"] = str(record.pointer.offset)
    fields["filename"] = record.pointer.file
    key = url_key(record.target_uri)
    return f"{key} {timestamp14(record.date)} {json.dumps(fields, ensure_ascii=False)}"


@dataclass(frozen=True)
class IndexEntry:
    """One parsed index line: its sort key and timestamp, its JSON fields, and the line."""

    key: str
    timestamp: str
    fields: dict[str, Any]
    line: str

    @property
    def filename(self) -> str | None:
        return self.fields.get("filename")

    @property
    def place(self) -> tuple[str, int]:
        """(file, offset) of its record; offset -1 when the line has no usable one."""
        offset = str(self.fields.get("offset", ""))
        return str(self.fields.get("filename")), int(offset) if offset.isdigit() else -1

    @property
    def is_revisit(self) -> bool:
        return self.fields.get("mime") == REVISIT_MIME


def parse_index_line(line: str) -> IndexEntry | None:
    """A line of the index parsed; None for a header, a blank line or one that is not CDXJ."""
    line = line.rstrip("\n")
    if not line.strip() or line.startswith("!"):
        return None
    head, brace, rest = line.partition(" {")
    key, _, timestamp = head.rpartition(" ")
    try:
        fields = json.loads(brace.lstrip() + rest)
    except ValueError:
        return None
    return IndexEntry(key, timestamp, fields, line + "\n") if isinstance(fields, dict) else None


def read_index(index: Path) -> Iterator[IndexEntry]:
    """The index's CDXJ lines in order, parsed (others skipped), streamed."""
    with open(index, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if (entry := parse_index_line(line)) is not None:
                yield entry


def index_warc(path: Path) -> Iterator[str]:
    """Index lines for every indexable record of one WARC file. A damaged file (one warcio
    cannot read through) gets the lines of its whole records only, found by the resynchronising
    scan ``verify`` uses."""
    try:
        lines = list(_index_lines(path))
    except Exception:  # whatever warcio makes of bytes that are not records
        with open(path, "rb") as stream:
            places = [(found.offset, found.length) for found in scan_with_damage(stream)
                      if isinstance(found, ScannedRecord)]
        lines = list(_index_lines(path, places))
    yield from lines


def _index_lines(path: Path, places: list[tuple[int, int]] | None = None) -> Iterator[str]:
    """Lines for the records of the file, or only those at ``places`` (offset, length)."""
    name = path.name.removesuffix(OPEN_SUFFIX)
    with open(path, "rb") as stream:
        found = _all_records(stream) if places is None else _records_at(stream, places)
        for record, offset, length in found:
            if record.rec_type not in INDEXED_TYPES:
                continue
            profile = record.rec_headers.get_header("WARC-Profile")
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            pointer = RecordPointer(name, offset, length, record_id)
            line = cdxj_line(describe_record(record, pointer), profile)
            if line:
                yield line


def _all_records(stream: BinaryIO) -> Iterator[tuple[ArcWarcRecord, int, int]]:
    records = ArchiveIterator(stream)
    for record in records:
        yield record, records.get_record_offset(), records.get_record_length()


def _records_at(
    stream: BinaryIO, places: list[tuple[int, int]]
) -> Iterator[tuple[ArcWarcRecord, int, int]]:
    for offset, length in places:
        stream.seek(offset)
        yield next(iter(ArchiveIterator(LimitReader(stream, length)))), offset, length


@contextmanager
def index_lock(index_dir: Path) -> Iterator[None]:
    """Exclusive ``flock`` on ``index/.merge.lock`` around a read-merge-replace of the index:
    distributed workers (docs/distributed.md) merge into one ``index.cdxj`` as they finish, and
    two merges reading the same old index would each drop the other's lines. Reentrant."""
    index_dir.mkdir(parents=True, exist_ok=True)
    key = index_dir.resolve()
    if key in _merge_locks:
        _merge_locks[key] += 1
        try:
            yield
        finally:
            _merge_locks[key] -= 1
        return
    fd = os.open(key / MERGE_LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _merge_locks[key] = 1
        try:
            yield
        finally:
            del _merge_locks[key]
    finally:
        os.close(fd)  # releases the flock


def merge_into_index(index_dir: Path, new_lines: Iterable[str]) -> Path:
    """Merge ``new_lines`` into the sorted index, replacing it atomically; returns its path."""
    fresh = sorted(set(new_lines))
    with index_lock(index_dir):
        return _merge(index_dir, fresh)


def _merge(index_dir: Path, fresh: list[str]) -> Path:
    index_path = index_dir / INDEX_NAME
    fd, tmp_name = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=index_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            existing = _read_lines(index_path)
            previous = None
            for line in heapq.merge(existing, iter(fresh)):
                if line != previous:
                    out.write(line + "\n")
                previous = line
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, index_path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return index_path


def rebuild_index(warc_paths: Iterable[Path], index_dir: Path) -> Path:
    """A fresh index of the given WARC files, replacing the old one."""
    index_path = index_dir / INDEX_NAME
    with index_lock(index_dir):
        lines: list[str] = []
        for path in warc_paths:
            lines.extend(index_warc(path))
        index_path.unlink(missing_ok=True)
        return merge_into_index(index_dir, lines)


def _read_lines(path: Path) -> Iterator[str]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            line = line.rstrip("\n")
            if line and not line.startswith("!"):
                yield line
