"""Capture lookups through the sorted CDXJ index, and the records they point at.

The index (``index/index.cdxj``) is memory-mapped and binary-searched: a lookup costs a few
dozen line reads whatever the archive's size. Records are read by the store's one record reader
(:mod:`newsarchive.store.records`), which streams their payloads.
"""

from __future__ import annotations

import mmap
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from newsarchive.store.cdxj import INDEX_NAME, REVISIT_MIME, parse_index_line, url_key
from newsarchive.store.records import OpenRecord, RecordNotFound, WarcRecords

TIMESTAMP_DIGITS = 14
IDENTICAL_PAYLOAD = "identical-payload-digest"


class NotArchived(RecordNotFound):
    """No usable capture of that URL (or no such record)."""


@dataclass(frozen=True)
class Capture:
    """One index line: a response or revisit record of ``url`` at ``timestamp``."""

    key: str
    timestamp: str  # yyyymmddhhmmss
    url: str
    mime: str | None
    status: int | None
    digest: str | None
    filename: str
    offset: int
    length: int

    @classmethod
    def parse(cls, line: str) -> Capture:
        entry = parse_index_line(line)
        if entry is None:
            raise ValueError(f"not a CDXJ line: {line[:80]!r}")
        fields = entry.fields
        status = fields.get("status")
        return cls(
            key=entry.key,
            timestamp=entry.timestamp,
            url=fields["url"],
            mime=fields.get("mime"),
            status=int(status) if status not in (None, "", "-") else None,
            digest=fields.get("digest"),
            filename=fields["filename"],
            offset=int(fields["offset"]),
            length=int(fields["length"]),
        )

    @property
    def is_revisit(self) -> bool:
        return self.mime == REVISIT_MIME

    @property
    def moment(self) -> datetime:
        return parse_timestamp(self.timestamp)


def parse_timestamp(timestamp: str) -> datetime:
    """A (possibly partial) 14-digit timestamp as a UTC datetime; missing digits pad low."""
    digits = (timestamp + "00000101000000"[len(timestamp):])[:TIMESTAMP_DIGITS]
    if not digits.isdigit():
        raise ValueError(f"not a timestamp: {timestamp!r}")
    return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def nearest(captures: list[Capture], timestamp: str) -> Capture:
    """The capture closest in time to ``timestamp``; on a tie, the earlier one."""
    if not captures:
        raise NotArchived("no captures")
    target = parse_timestamp(timestamp)
    return min(captures, key=lambda c: (abs((c.moment - target).total_seconds()), c.timestamp))


class CdxjIndex:
    """Binary search over the sorted index file; reopened when the file is replaced."""

    def __init__(self, index_dir: Path):
        self.path = index_dir / INDEX_NAME
        self._lock = threading.Lock()
        self._map: mmap.mmap | None = None
        self._stamp: tuple[int, int] | None = None

    def captures(self, url: str) -> list[Capture]:
        """Every replayable capture of ``url`` (responses and revisits), oldest first."""
        prefix = (url_key(url) + " ").encode("utf-8")
        found = []
        for line in self._lines_with_prefix(prefix):
            try:
                found.append(Capture.parse(line))
            except (ValueError, KeyError):  # a line of another tool's making: not replayable
                continue
        return [c for c in found if c.status is not None or c.is_revisit]

    def count(self) -> int:
        if self._data() is None:
            return 0
        with open(self.path, "rb") as stream:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))

    def _lines_with_prefix(self, prefix: bytes) -> list[str]:
        data = self._data()
        if data is None:
            return []
        position = _first_line_at_least(data, prefix)
        lines = []
        while position < len(data):
            end = data.find(b"\n", position)
            end = len(data) if end < 0 else end
            line = data[position:end]
            if not line.startswith(prefix):
                break
            lines.append(line.decode("utf-8"))
            position = end + 1
        return lines

    def _data(self) -> mmap.mmap | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        stamp = (stat.st_ino, stat.st_mtime_ns)
        with self._lock:
            if stamp != self._stamp:
                self._map = None
                if stat.st_size:
                    with open(self.path, "rb") as stream:
                        self._map = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
                self._stamp = stamp
            return self._map


def _first_line_at_least(data: mmap.mmap, target: bytes) -> int:
    """Offset of the first line >= target (or len(data)); lo and hi are always line starts."""
    lo, hi = 0, len(data)
    while lo < hi:
        mid = (lo + hi) // 2
        start = data.rfind(b"\n", lo, mid) + 1 or lo
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if data[start:end] < target:
            lo = end + 1
        else:
            hi = start
    return lo


class WarcStore(WarcRecords):
    """The archive's WARC records as replay reads them: a missing one is :class:`NotArchived`."""

    not_found = NotArchived


@dataclass
class Resolved:
    """A capture ready to replay: headers from ``head``, payload from ``body``."""

    capture: Capture
    head: OpenRecord
    body: OpenRecord

    def close(self) -> None:
        self.head.close()
        if self.body is not self.head:
            self.body.close()


class ArchiveReader:
    """The read-only view of an output directory that replay needs."""

    def __init__(self, root: Path):
        self.root = root
        self.index = CdxjIndex(root / "index")
        self.warcs = WarcStore(root / "warc")

    def captures(self, url: str) -> list[Capture]:
        return self.index.captures(url)

    def nearest(self, url: str, timestamp: str) -> Capture:
        captures = self.captures(url)
        if not captures:
            raise NotArchived(f"{url} is not archived")
        return nearest(captures, timestamp)

    def open_capture(self, capture: Capture) -> OpenRecord:
        return self.warcs.open_record(capture.filename, capture.offset, capture.length)

    def resolve(self, capture: Capture) -> Resolved:
        """Open a capture; a revisit gets the payload (and, if it has none, the headers) of
        the response it refers to."""
        head = self.open_capture(capture)
        if head.rec_type != "revisit":
            return Resolved(capture, head, head)
        try:
            original = self.open_capture(self.revisit_original(capture, head))
        except NotArchived:
            head.close()
            raise
        if head.status is None or head.status == 304 or IDENTICAL_PAYLOAD not in (
            head.header("WARC-Profile") or ""
        ):
            head.close()
            return Resolved(capture, original, original)
        return Resolved(capture, head, original)

    def revisit_original(self, capture: Capture, revisit: OpenRecord) -> Capture:
        """The response a revisit refers to: same payload digest, by target URI and date."""
        target = revisit.header("WARC-Refers-To-Target-URI") or capture.url
        date = revisit.header("WARC-Refers-To-Date")
        digest = revisit.header("WARC-Payload-Digest") or capture.digest
        candidates = [
            c for c in self.captures(target)
            if not c.is_revisit and (digest is None or c.digest == digest)
        ]
        if not candidates:
            raise NotArchived(f"revisit of {capture.url}: original response not in the archive")
        when = "".join(ch for ch in date or "" if ch.isdigit())[:TIMESTAMP_DIGITS]
        return nearest(candidates, when or capture.timestamp)


Archive = ArchiveReader  # its first name, still used by callers outside replay
