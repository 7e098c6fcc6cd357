"""Rotating WARC/1.1 writer: one gzip member per record, a warcinfo record first in every file.

Files are named per the IIPC convention ``PREFIX-<yyyymmddhhmmssSSS>-<serial:05d>-<host>-<pid>``
and carry an ``.open`` suffix until closed. Every record is flushed as soon as it is written, so
a killed process leaves only whole records plus at most one torn tail (see ``repair``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import GzippingWrapper, WARCWriter

from newsarchive.base.failures import ArchiveWriteError, describe_os_error
from newsarchive.capture.exchange import Exchange

OPEN_SUFFIX = ".open"
WARC_VERSION = "WARC/1.1"
IDENTICAL_PAYLOAD_DIGEST = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


@dataclass(frozen=True)
class RecordPointer:
    """Where one record lives: enough for a reader to seek to it and read it alone."""

    file: str
    offset: int
    length: int
    record_id: str

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "offset": self.offset,
            "length": self.length,
            "record_id": self.record_id,
        }


@dataclass(frozen=True)
class WrittenRecord:
    """What the index and the JSONL need to know about a record just written."""

    pointer: RecordPointer
    rec_type: str
    target_uri: str
    date: str  # WARC-Date, ISO 8601
    mime: str | None = None
    status: int | None = None
    payload_digest: str | None = None


class RawStatusAndHeaders(StatusAndHeaders):
    """HTTP head that warcio writes byte for byte, instead of re-serialising parsed headers."""

    def __init__(self, raw_head: bytes, is_http_request: bool = False):
        first, _, rest = raw_head.decode("latin-1").partition("\r\n")
        protocol, _, statusline = first.partition(" ")
        headers = [
            tuple(part.strip() for part in line.split(":", 1))
            for line in rest.split("\r\n")
            if ":" in line
        ]
        super().__init__(statusline, headers, protocol=protocol, is_http_request=is_http_request)
        self.headers_buff = raw_head

    def compute_headers_buffer(self, header_filter=None) -> None:  # noqa: ARG002
        """Keep the bytes as received: re-encoding would change them."""


# Payloads that deflate cannot shrink: gzipping them at level 9 costs time for nothing
# (docs/benchmarks.md). Their records are written as stored (level 0) deflate blocks: the same
# record bytes inside a valid gzip member, a few hundred bytes more (the uncompressed heads).
_COMPRESSED_CODINGS = frozenset({"gzip", "x-gzip", "br", "deflate", "zstd", "compress"})
_COMPRESSED_TYPES = (
    "image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "video/", "audio/",
    "font/woff", "application/zip", "application/gzip", "application/x-gzip",
)


def payload_is_compressed(record) -> bool:
    """Whether a record's HTTP payload is already compressed (content-coded or a packed type)."""
    http = record.http_headers
    if http is None or record.rec_type not in ("response", "request"):
        return False
    coding = (http.get_header("Content-Encoding") or "").strip().lower()
    if coding and coding.split(",")[-1].strip() in _COMPRESSED_CODINGS:
        return True
    return (http.get_header("Content-Type") or "").strip().lower().startswith(_COMPRESSED_TYPES)


class _StoredGzip(GzippingWrapper):
    def __init__(self, out: BinaryIO):
        super().__init__(out)
        self.compressor = zlib.compressobj(0, zlib.DEFLATED, zlib.MAX_WBITS + 16)


class LeveledWARCWriter(WARCWriter):
    """warcio's WARCWriter, storing already-compressed payloads instead of deflating them."""

    def _write_warc_record(self, out, record) -> None:
        if not self.gzip or not payload_is_compressed(record):
            super()._write_warc_record(out, record)
            return
        self.gzip = False
        try:
            super()._write_warc_record(_StoredGzip(out), record)  # flushes the gzip trailer
        finally:
            self.gzip = True


class WarcFileWriter:
    """Writes records into size-rotated WARC files under ``directory``."""

    def __init__(
        self,
        directory: Path,
        warcinfo: dict[str, str],
        max_size: int = 1_000_000_000,
        prefix: str = "NEWSARCHIVE",
    ):
        self.directory = directory
        self.warcinfo = warcinfo
        self.max_size = max_size
        self.prefix = prefix
        # the host goes into file names, which readers accept as [A-Za-z0-9._-] only
        self.host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0]) or "localhost"
        self.files_written: list[str] = []
        self.failed: str | None = None  # why writing failed; nothing more is written then
        self.on_failure: Callable[[str], None] | None = None
        self._serial = 0
        self._stream: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self._name = ""
        self._builder = RecordBuilder(warc_version=WARC_VERSION)

    # -- records ---------------------------------------------------------------------------------
    def write_exchange(self, exchange: Exchange) -> tuple[WrittenRecord, WrittenRecord]:
        """Write the response and its request; return (response, request)."""
        date = warc_date(exchange.started)
        response = self._response_record(exchange, date)
        written_response = self._write(response)
        request = self._request_record(exchange, date, written_response.pointer.record_id)
        written_request = self._write(request)
        return written_response, written_request

    def write_revisit(
        self, exchange: Exchange, original: WrittenRecord, profile: str
    ) -> tuple[WrittenRecord, WrittenRecord]:
        """Write a ``revisit`` record (HTTP head only) referring to ``original``, and its request.

        ``profile`` is :data:`IDENTICAL_PAYLOAD_DIGEST` (a 200 whose payload equals the
        original's) or :data:`SERVER_NOT_MODIFIED` (a 304 answering a conditional request).
        """
        date = warc_date(exchange.started)
        headers = [
            ("WARC-Profile", profile),
            ("WARC-Refers-To-Target-URI", original.target_uri),
            ("WARC-Refers-To-Date", original.date),
            ("WARC-Refers-To", original.pointer.record_id),
            ("WARC-Payload-Digest", original.payload_digest or ""),
        ]
        if exchange.ip_address:
            headers.append(("WARC-IP-Address", exchange.ip_address))
        revisit = self.make_record(
            "revisit",
            exchange.url,
            b"",
            content_type="application/http; msgtype=response",
            warc_headers=headers,
            http_head=exchange.stored_head(),
            date=date,
        )
        written_revisit = self._write(revisit)
        request = self._request_record(exchange, date, written_revisit.pointer.record_id)
        return written_revisit, self._write(request)

    def write_record(self, record) -> WrittenRecord:
        """Write any record made with :meth:`make_record`."""
        return self._write(record)

    def make_record(
        self,
        rec_type: str,
        target_uri: str,
        payload: bytes,
        *,
        content_type: str | None = None,
        warc_headers: Iterable[tuple[str, str]] = (),
        http_head: bytes | None = None,
        date: str | None = None,
    ):
        headers = [
            ("WARC-Type", rec_type),
            ("WARC-Record-ID", self._builder._make_warc_id()),
            ("WARC-Date", date or warc_date(datetime.now(UTC))),
            ("WARC-Target-URI", target_uri),
            *warc_headers,
        ]
        return self._builder.create_warc_record(
            target_uri,
            rec_type,
            payload=io.BytesIO(payload),
            length=len(payload),
            warc_content_type=content_type,
            warc_headers=StatusAndHeaders("", headers, protocol=WARC_VERSION),
            http_headers=RawStatusAndHeaders(http_head) if http_head is not None else None,
        )

    # -- files -----------------------------------------------------------------------------------
    def close(self) -> None:
        if self._stream is None:
            return
        if self.failed is None:
            self._stream.close()
        final = self.directory / self._name
        if self.failed is not None and self._open_path.stat().st_size == 0:
            self._open_path.unlink()  # its warcinfo never made it: nothing to keep
            self._stream = None
            return
        os.replace(self._open_path, final)
        self.files_written.append(self._name)
        self._stream = None
        self._writer = None

    @property
    def _open_path(self) -> Path:
        return self.directory / (self._name + OPEN_SUFFIX)

    @property
    def current_file(self) -> str | None:
        return self._name if self._stream is not None else None

    def _writer_or_open(self) -> WARCWriter:
        if self._writer is None:
            self._open_next()
        assert self._writer is not None
        return self._writer

    def _open_next(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        self._serial += 1
        self._name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self.host}-{os.getpid()}.warc.gz"
        self._stream = open(self.directory / (self._name + OPEN_SUFFIX), "xb")  # noqa: SIM115
        self._writer = LeveledWARCWriter(self._stream, gzip=True, warc_version=WARC_VERSION)
        info = self._writer.create_warcinfo_record(self._name, self.warcinfo)
        self._append(info)

    def _write(self, record) -> WrittenRecord:
        if self.failed is not None:
            raise ArchiveWriteError(self.failed)
        try:
            if self._stream is not None and self._stream.tell() >= self.max_size:
                self.close()
            self._writer_or_open()
        except ArchiveWriteError:
            raise
        except OSError as exc:
            raise self._failure(describe_os_error(exc)) from exc
        pointer = self._append(record)
        return describe_record(record, pointer)

    def _append(self, record) -> RecordPointer:
        assert self._stream is not None and self._writer is not None
        offset = self._stream.tell()
        try:
            self._writer.write_record(record)
            self._stream.flush()
        except OSError as exc:
            self._abandon(offset)
            raise self._failure(describe_os_error(exc, self._open_path)) from exc
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        return RecordPointer(self._name, offset, self._stream.tell() - offset, record_id)

    def _failure(self, message: str) -> ArchiveWriteError:
        self.failed = message
        if self.on_failure is not None:
            self.on_failure(message)
        return ArchiveWriteError(message)

    def _abandon(self, offset: int) -> None:
        """After a failed write: cut the file back to its last whole record, drop the rest."""
        stream = self._stream
        assert stream is not None
        try:
            os.ftruncate(stream.fileno(), offset)
        finally:
            stream.raw.close()  # what the buffer still holds must never reach the file
            with contextlib.suppress(OSError, ValueError):
                stream.close()

    def _response_record(self, exchange: Exchange, date: str):
        headers: list[tuple[str, str]] = []
        if exchange.ip_address:
            headers.append(("WARC-IP-Address", exchange.ip_address))
        if exchange.truncated:
            headers.append(("WARC-Truncated", exchange.truncated))
        return self.make_record(
            "response",
            exchange.url,
            exchange.body,
            content_type="application/http; msgtype=response",
            warc_headers=headers,
            http_head=exchange.stored_head(),
            date=date,
        )

    def _request_record(self, exchange: Exchange, date: str, response_id: str):
        headers = [("WARC-Concurrent-To", response_id)]
        if exchange.ip_address:
            headers.append(("WARC-IP-Address", exchange.ip_address))
        return self.make_record(
            "request",
            exchange.url,
            exchange.request_body,
            content_type="application/http; msgtype=request",
            warc_headers=headers,
            http_head=exchange.request_head,
            date=date,
        )


def warc_date(moment: datetime) -> str:
    """WARC-Date with microseconds, e.g. 2026-11-27T20:40:25.733810Z (always UTC)."""
    naive_utc = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
    return datetime_to_iso_date(naive_utc, use_micros=True)


def describe_record(record, pointer: RecordPointer) -> WrittenRecord:
    """What the index and the state know of a record written (or read back) at ``pointer``."""
    rec = record.rec_headers
    http = record.http_headers
    status = None
    mime = None
    if http is not None and record.rec_type in ("response", "revisit"):
        try:
            status = int(http.get_statuscode())
        except (TypeError, ValueError):
            status = None
        mime = (http.get_header("Content-Type") or "").split(";")[0].strip() or None
    elif record.content_type:
        mime = record.content_type.split(";")[0].strip()
    return WrittenRecord(
        pointer=pointer,
        rec_type=record.rec_type,
        target_uri=rec.get_header("WARC-Target-URI"),
        date=rec.get_header("WARC-Date"),
        mime=mime,
        status=status,
        payload_digest=rec.get_header("WARC-Payload-Digest"),
    )
