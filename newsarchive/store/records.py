"""Reading earlier captures back from the archive's WARC files.

A recurring run needs them in three places: a 304 hands the spider the page it refers to, change
tracking diffs the text of the previous capture, and ``crawl --resume`` replays what the killed run
already archived instead of fetching it again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from scrapy.http import Headers, Request, Response
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator

from newsarchive.capture.warc_writer import OPEN_SUFFIX, RecordPointer


@dataclass(frozen=True)
class StoredRecord:
    rec_type: str
    status: int | None
    headers: list[tuple[str, str]]  # HTTP headers as stored
    payload: bytes  # HTTP payload as stored (still content-encoded) or the record block


def read_record(warc_dir: Path, pointer: RecordPointer) -> StoredRecord:
    """The record ``pointer`` names; raises LookupError if it is not there."""
    member = _read_member(warc_dir, pointer)
    record = next(iter(ArchiveIterator(io.BytesIO(member))), None)
    if record is None or record.rec_headers.get_header("WARC-Record-ID") != pointer.record_id:
        raise LookupError(f"no record {pointer.record_id} at {pointer.file}:{pointer.offset}")
    http = record.http_headers
    status = int(http.get_statuscode()) if http is not None and http.get_statuscode() else None
    headers = list(http.headers) if http is not None else []
    return StoredRecord(record.rec_type, status, headers, record.raw_stream.read())


def read_text(warc_dir: Path, pointer: RecordPointer | None) -> str:
    """The text of a conversion record ("" when there is none or it cannot be read)."""
    if pointer is None:
        return ""
    try:
        return read_record(warc_dir, pointer).payload.decode("utf-8", "replace")
    except (LookupError, OSError):
        return ""


def response_from_capture(request: Request, stored: StoredRecord) -> Response:
    """A Scrapy response as the stored capture was received (body still content-encoded, so
    the downloader middlewares treat it as they treated the original)."""
    headers = Headers()
    for name, value in stored.headers:
        if not name.lower().startswith(("x-archive-orig-", "transfer-encoding")):
            headers.appendlist(name, value)
    respcls = responsetypes.from_args(headers=headers, url=request.url, body=stored.payload)
    return respcls(
        url=request.url,
        status=stored.status or 200,
        headers=headers,
        body=stored.payload,
        request=request,
        flags=["archived"],
    )


def _read_member(warc_dir: Path, pointer: RecordPointer) -> bytes:
    for name in (pointer.file, pointer.file + OPEN_SUFFIX):
        try:
            with open(warc_dir / name, "rb") as stream:
                stream.seek(pointer.offset)
                return stream.read(pointer.length)
        except FileNotFoundError:
            continue
    raise LookupError(f"WARC file {pointer.file} is missing")
