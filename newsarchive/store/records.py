"""The one reader of single WARC records, by pointer: (file, offset, length[, record id]).

Replay streams archived payloads through it; a recurring run reads earlier captures back (a 304's
page, a resumed run's answers, the previous text for change tracking); ``reextract`` reads the
stored responses. A record is found by seeking to its gzip member and parsing that member alone;
its payload is streamed, and read whole only by callers that need the bytes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from warcio.archiveiterator import ArchiveIterator
from warcio.limitreader import LimitReader
from warcio.recordloader import ArcWarcRecord

from newsarchive.base.codings import ContentDecoder, DecodingError
from newsarchive.capture.warc_writer import OPEN_SUFFIX, RecordPointer

WARC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.warc(\.gz)?$")
CHUNK_SIZE = 65536


class RecordNotFound(LookupError):
    """No such record: a name that is not a WARC file of the archive, a missing file, no record
    at that offset, or another record than the pointer's id."""


class WarcRecords:
    """Reads single records out of the WARC files under ``warc_dir`` (read-only).

    A subclass may set ``not_found`` to a subclass of :class:`RecordNotFound` of its own.
    """

    not_found: type[RecordNotFound] = RecordNotFound

    def __init__(self, warc_dir: Path):
        self.warc_dir = warc_dir

    def check_name(self, filename: str) -> None:
        """A WARC file name from an index line, a pointer or a URL; no path tricks get through."""
        if not WARC_NAME.match(filename) or ".." in filename:
            raise self.not_found(f"not a WARC file name: {filename!r}")

    def has_file(self, filename: str) -> bool:
        """Whether the file is there, closed or still being written (``.open``)."""
        try:
            self.check_name(filename)
        except RecordNotFound:
            return False
        return any((self.warc_dir / name).is_file() for name in _names(filename))

    def open_record(
        self, filename: str, offset: int, length: int, record_id: str | None = None
    ) -> OpenRecord:
        """The record whose gzip member is ``length`` bytes at ``offset`` of ``filename``,
        parsed up to its payload; raises ``not_found`` if there is none (or it has another id)."""
        stream = self._open_file(filename)
        try:
            size = os.fstat(stream.fileno()).st_size
            if offset < 0 or length <= 0 or offset + length > size:
                raise self.not_found(f"no record at {filename}:{offset}+{length}")
            stream.seek(offset)
            try:
                record = next(iter(ArchiveIterator(LimitReader(stream, length))))
            except Exception as exc:  # whatever warcio makes of bytes that are not a record
                raise self.not_found(f"no record at {filename}:{offset}") from exc
            opened = OpenRecord(record, stream, offset, length)
            if record_id is not None and opened.record_id != record_id:
                raise self.not_found(f"no record {record_id} at {filename}:{offset}")
        except BaseException:
            stream.close()
            raise
        return opened

    def open_pointer(self, pointer: RecordPointer) -> OpenRecord:
        return self.open_record(pointer.file, pointer.offset, pointer.length, pointer.record_id)

    def raw_member(
        self, filename: str, offset: int, length: int, record_id: str | None = None
    ) -> Iterator[bytes]:
        """The record's stored bytes (one gzip member), streamed once a record is found there."""
        with self.open_record(filename, offset, length, record_id) as opened:
            yield from opened.stored_chunks()

    def _open_file(self, filename: str) -> IO[bytes]:
        self.check_name(filename)
        # the closed name again last: the writer may rename .open to it between the first tries
        for name in (*_names(filename), filename):
            try:
                return open(self.warc_dir / name, "rb")  # noqa: SIM115  (closed by OpenRecord)
            except (FileNotFoundError, IsADirectoryError):
                continue
        raise self.not_found(f"no such WARC file: {filename}")


def _names(filename: str) -> tuple[str, str]:
    return filename, filename + OPEN_SUFFIX


class OpenRecord:
    """A parsed WARC record whose payload is still to be read from the open file."""

    def __init__(self, record: ArcWarcRecord, stream: IO[bytes], offset: int, length: int):
        self.record = record
        self.offset = offset
        self.length = length
        self._stream = stream

    def __enter__(self) -> OpenRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()

    @property
    def rec_type(self) -> str:
        return self.record.rec_type

    @property
    def record_id(self) -> str | None:
        return self.header("WARC-Record-ID")

    def header(self, name: str) -> str | None:
        """A WARC header of the record."""
        return self.record.rec_headers.get_header(name)

    @property
    def warc_headers(self) -> list[tuple[str, str]]:
        return list(self.record.rec_headers.headers)

    @property
    def status(self) -> int | None:
        http = self.record.http_headers
        if http is None or not http.get_statuscode():
            return None
        try:
            return int(http.get_statuscode())
        except ValueError:
            return None

    @property
    def http_headers(self) -> list[tuple[str, str]]:
        http = self.record.http_headers
        return list(http.headers) if http is not None else []

    def http_header(self, name: str) -> str | None:
        http = self.record.http_headers
        return http.get_header(name) if http is not None else None

    def payload_chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The payload with its content-encoding undone (what a browser would see), streamed.

        Decoded by :class:`newsarchive.base.codings.ContentDecoder`, not warcio's
        ``content_stream()`` (no zstd; br fails with brotli 1.2: docs/compat.md). Codings it
        does not know stay (:attr:`codings_left`); a body that stops decoding ends where it
        stops, as a browser shows a damaged body.
        """
        decoder = ContentDecoder(self.http_header("Content-Encoding"), size)
        try:
            yield from decoder.stream(self._stored_payload_chunks(size))
        except DecodingError:
            return

    @property
    def codings_left(self) -> list[str]:
        """Content codings :meth:`payload_chunks` leaves in place (not known), in header order."""
        return ContentDecoder(self.http_header("Content-Encoding")).remaining

    def payload(self, limit: int | None = None) -> bytes:
        """The payload with its content-encoding undone, whole or its first ``limit`` bytes."""
        out = bytearray()
        for chunk in self.payload_chunks():
            out += chunk
            if limit is not None and len(out) >= limit:
                return bytes(out[:limit])
        return bytes(out)

    def _stored_payload_chunks(self, size: int) -> Iterator[bytes]:
        while chunk := self.record.raw_stream.read(size):
            yield chunk

    def stored_payload(self) -> bytes:
        """The payload as stored (an HTTP body still content-encoded), or the record block."""
        return self.record.raw_stream.read()

    def stored_chunks(self, size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The record's gzip member as it is in the file."""
        self._stream.seek(self.offset)
        remaining = self.length
        while remaining > 0:
            chunk = self._stream.read(min(size, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk

    def read(self) -> StoredRecord:
        """Everything of the record, its stored payload read whole."""
        return StoredRecord(
            self.rec_type, self.status, self.http_headers, self.stored_payload(), self.warc_headers
        )


@dataclass(frozen=True)
class StoredRecord:
    """A record read whole, for callers that need its payload's bytes."""

    rec_type: str
    status: int | None
    http_headers: list[tuple[str, str]]  # as stored
    payload: bytes  # HTTP payload as stored (still content-encoded) or the record block
    warc_headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        """A WARC header of the record (the first of that name)."""
        wanted = name.lower()
        return next((value for key, value in self.warc_headers if key.lower() == wanted), None)


def read_record(warc_dir: Path, pointer: RecordPointer) -> StoredRecord:
    """The record ``pointer`` names, read whole; raises RecordNotFound if it is not there."""
    with WarcRecords(warc_dir).open_pointer(pointer) as opened:
        return opened.read()


def read_text(warc_dir: Path, pointer: RecordPointer | None) -> str:
    """The text of a conversion record ("" when there is none or it cannot be read)."""
    if pointer is None:
        return ""
    try:
        return read_record(warc_dir, pointer).payload.decode("utf-8", "replace")
    except (LookupError, OSError):
        return ""
