"""A strict, streaming reader of newsarchive's WARC files, one gzip member per record.

Unlike a general WARC reader it insists on the layout newsarchive writes, so it can tell a whole
record from a torn one: each gzip member must end cleanly and hold exactly one record whose block
has its declared ``Content-Length`` and the ``\\r\\n\\r\\n`` trailer. Digests are computed on the
way, in bounded memory (the decompressed output is consumed in chunks), for ``verify``, and a
response's payload is run through its content decoder (:mod:`newsarchive.base.codings`, what replay
and ``reextract`` use) to tell whether it decodes; the same scan tells ``repair`` where the last
complete record of a killed run's file ends.
"""

from __future__ import annotations

import hashlib
import zlib
from base64 import b32encode
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from newsarchive.base.codings import ContentDecoder, DecodingError

READ_CHUNK = 64 * 1024  # small: each member end copies what is left of the chunk
OUTPUT_CHUNK = 1024 * 1024
MAX_WARC_HEAD = 256 * 1024
MAX_HTTP_HEAD = 1024 * 1024
SALVAGE_PIECE = 512
TRAILER = b"\r\n\r\n"
GZIP_MEMBER = b"\x1f\x8b\x08"  # gzip magic and deflate: how every member starts


class WarcFormatError(Exception):
    """The file is not (or no longer) a sequence of whole records from ``offset`` on."""

    def __init__(self, offset: int, message: str, torn: bool = False):
        super().__init__(f"offset {offset}: {message}")
        self.offset = offset
        self.message = message
        self.torn = torn  # the file just stops: what a killed writer leaves
        self.headers: dict[str, str] | None = None  # the bad record's WARC headers, if read


@dataclass
class ScannedRecord:
    offset: int
    length: int  # compressed length of the gzip member
    headers: dict[str, str]  # WARC headers (last value wins; names as written)
    block_digest: str
    payload_digest: str | None  # computed the way warcio writes it; None for revisits
    http_head: bytes = b""
    problems: list[str] = field(default_factory=list)
    decoding: str | None = None  # why the payload does not decode as its Content-Encoding

    def get(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def rec_type(self) -> str:
        return self.get("WARC-Type") or ""

    @property
    def record_id(self) -> str:
        return self.get("WARC-Record-ID") or ""

    @property
    def target_uri(self) -> str:
        return self.get("WARC-Target-URI") or ""


def sha1_base32(hasher) -> str:
    return "sha1:" + b32encode(hasher.digest()).decode("ascii")


class _RecordParser:
    """Consumes one member's decompressed bytes and checks them as one WARC record."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.headers: dict[str, str] | None = None
        self.declared = 0
        self.seen = 0  # block bytes seen
        self.trailer = bytearray()
        self.block = hashlib.sha1()
        self.payload = hashlib.sha1()
        self.is_http = False
        self.http_head = bytearray()
        self.http_done = False
        self.decoder: ContentDecoder | None = None
        self.decoded = 0  # payload bytes given to the decoder
        self.decoding: str | None = None
        self.error: str | None = None

    def feed(self, data: bytes) -> None:
        if self.error:
            return
        if self.headers is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                if len(self.head) > MAX_WARC_HEAD:
                    self.error = "no end of WARC headers"
                return
            rest = bytes(self.head[end + 4 :])
            self._parse_head(bytes(self.head[:end]))
            if self.error:
                return
            data = rest
        take = min(len(data), self.declared - self.seen)
        if take:
            self._feed_block(data[:take])
        self.trailer += data[take:]
        if len(self.trailer) > len(TRAILER):
            self.error = "bytes after the record in its gzip member"

    def _parse_head(self, head: bytes) -> None:
        lines = head.decode("utf-8", "replace").split("\r\n")
        if not lines[0].startswith("WARC/"):
            self.error = f"not a WARC record (starts {lines[0][:20]!r})"
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self.error = f"malformed WARC header line {line[:60]!r}"
                return
            headers[name.strip().lower()] = value.strip()
        try:
            self.declared = int(headers.get("content-length", ""))
        except ValueError:
            self.error = "missing or bad Content-Length"
            return
        self.headers = headers
        content_type = headers.get("content-type", "")
        self.is_http = content_type.startswith("application/http")

    def _feed_block(self, data: bytes) -> None:
        self.seen += len(data)
        self.block.update(data)
        if not self.is_http or self.http_done:
            self.payload.update(data)
            self._decode(data)
            return
        self.http_head += data
        end = self.http_head.find(b"\r\n\r\n")
        if end >= 0:
            self.http_done = True
            self.decoder = _decoder_for(self.headers or {}, bytes(self.http_head[:end]))
            self.payload.update(self.http_head[end + 4 :])
            self._decode(bytes(self.http_head[end + 4 :]))
            del self.http_head[end + 4 :]
        elif len(self.http_head) > MAX_HTTP_HEAD:
            self.error = "no end of HTTP headers in an application/http block"

    def _decode(self, data: bytes) -> None:
        if self.decoder is None or self.decoding or not data:
            return
        self.decoded += len(data)
        try:
            for _ in self.decoder.decode(data):
                pass  # only whether it decodes: the output is dropped a chunk at a time
        except DecodingError as exc:
            self.decoding = str(exc)

    def _finish_decoding(self) -> None:
        if self.decoder is None or self.decoding or not self.decoded:
            return
        try:
            for _ in self.decoder.finish():
                pass
        except DecodingError as exc:
            self.decoding = str(exc)
            return
        if not self.decoder.complete and not (self.headers or {}).get("warc-truncated"):
            self.decoding = f"{', '.join(self.decoder.undone)}: the payload ends mid-stream"

    def finish(self, offset: int, length: int) -> ScannedRecord:
        if self.error:
            raise WarcFormatError(offset, self.error)
        if self.headers is None:
            raise WarcFormatError(offset, "gzip member holds no complete WARC header")
        if self.seen < self.declared or bytes(self.trailer) != TRAILER:
            raise WarcFormatError(offset, "record shorter than its Content-Length")
        if self.is_http and not self.http_done and self.declared:
            self.payload = hashlib.sha1()  # a head without body separator: empty payload
        is_revisit = self.headers.get("warc-type") == "revisit"
        self._finish_decoding()
        return ScannedRecord(
            offset=offset,
            length=length,
            headers=self.headers,
            block_digest=sha1_base32(self.block),
            payload_digest=None if is_revisit else sha1_base32(self.payload),
            http_head=bytes(self.http_head) if self.is_http else b"",
            decoding=self.decoding,
        )


def _decoder_for(warc_headers: dict[str, str], http_head: bytes) -> ContentDecoder | None:
    """The content decoder of a response's payload (None: nothing to undo)."""
    if warc_headers.get("warc-type") != "response":
        return None
    codings = [
        value.strip()
        for line in http_head.decode("latin-1").split("\r\n")[1:]
        for name, sep, value in [line.partition(":")]
        if sep and name.strip().lower() == "content-encoding"
    ]
    decoder = ContentDecoder(", ".join(codings))
    return decoder if decoder.undone else None


def scan_warc(stream: BinaryIO, start: int = 0) -> Iterator[ScannedRecord]:
    """Yield each whole record from ``start``; raise WarcFormatError where the file goes bad."""
    stream.seek(start)
    read_total = start
    pending = b""
    while True:
        offset = read_total - len(pending)
        if not pending:
            pending = stream.read(READ_CHUNK)
            read_total += len(pending)
            if not pending:
                return  # a clean end, between members
        decompressor = zlib.decompressobj(31)
        parser = _RecordParser()
        try:
            while not decompressor.eof and not parser.error:
                if not pending:
                    pending = stream.read(READ_CHUNK)
                    read_total += len(pending)
                    if not pending:
                        parser.feed(_inflate(decompressor, offset, b"", final=True))
                        if decompressor.eof:
                            break
                        raise WarcFormatError(offset, "file ends inside a gzip member", torn=True)
                parser.feed(_inflate(decompressor, offset, pending))
                pending = decompressor.unconsumed_tail
            if decompressor.eof:
                pending = decompressor.unused_data
            member_end = read_total - len(pending)
            record = parser.finish(offset, member_end - offset)
        except WarcFormatError as exc:
            exc.headers = parser.headers
            raise
        yield record


def _inflate(decompressor, offset: int, data: bytes, final: bool = False) -> bytes:
    try:
        return decompressor.flush() if final else decompressor.decompress(data, OUTPUT_CHUNK)
    except zlib.error as exc:
        raise WarcFormatError(offset, f"gzip error: {exc}") from exc


@dataclass(frozen=True)
class Damage:
    """A stretch of a WARC file that is not a whole record, from ``offset`` to ``end`` (where the
    next whole record starts, or the end of the file: ``at_end``)."""

    offset: int
    end: int
    message: str  # what failed first
    at_end: bool  # nothing whole after it
    torn: bool = False  # the file stops inside a gzip member
    headers: dict[str, str] | None = None  # WARC headers of the damaged record, if they were read

    def get(self, name: str) -> str | None:
        return (self.headers or {}).get(name.lower())

    def describe(self) -> str:
        """The line ``verify`` and ``repair`` both print for it, after ``warc/FILE@OFFSET: ``."""
        what = ""
        if self.headers:
            target = self.get("WARC-Target-URI")
            parts = [self.get("WARC-Type") or "record", self.get("WARC-Record-ID")]
            parts += ["for", target] if target else []
            what = f" ({' '.join(part for part in parts if part)})"
        if self.at_end:
            after = " (a torn write)" if self.torn else (
                f"; no whole record in the {self.end - self.offset} bytes from there to the end")
        else:
            after = (f"; {self.end - self.offset} bytes skipped: the next record, at offset "
                     f"{self.end}, and those after it are whole")
        return f"unreadable record{what}: {self.message}{after}"


def scan_with_damage(stream: BinaryIO) -> Iterator[ScannedRecord | Damage]:
    """Every whole record of the file, and a :class:`Damage` for each stretch that is not one.

    After damage the scan resynchronises: it looks for the next gzip member that holds a whole
    record (the writer puts each record in a member of its own), so a flipped byte or a torn
    record costs that record only, and the records after it are read at their own offsets.
    """
    size = stream.seek(0, 2)
    start = 0
    while True:
        try:
            yield from scan_warc(stream, start)
            return
        except WarcFormatError as exc:
            found = _next_whole_record(stream, exc.offset + 1)
            end = size if found is None else found
            headers = exc.headers or _salvage_headers(stream, exc.offset)
            yield Damage(exc.offset, end, exc.message, found is None, exc.torn, headers)
            if found is None:
                return
            start = found


def _next_whole_record(stream: BinaryIO, start: int) -> int | None:
    """Offset of the first gzip member from ``start`` on that holds a whole record, if any."""
    position = start
    carry = b""
    while True:
        stream.seek(position)
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return None
        data = carry + chunk
        base = position - len(carry)
        found = data.find(GZIP_MEMBER)
        while found >= 0:
            if _whole_record_at(stream, base + found):
                return base + found
            found = data.find(GZIP_MEMBER, found + 1)
        carry = data[-(len(GZIP_MEMBER) - 1) :]
        position += len(chunk)


def _salvage_headers(stream: BinaryIO, offset: int) -> dict[str, str] | None:
    """The WARC headers at the start of a damaged member, read in small pieces: zlib gives no
    output from a piece it finds an error in, and the damage may be in the first big one."""
    stream.seek(offset)
    decompressor = zlib.decompressobj(31)
    parser = _RecordParser()
    for _ in range(MAX_WARC_HEAD // SALVAGE_PIECE):
        piece = stream.read(SALVAGE_PIECE)
        if not piece or parser.error:
            break
        try:
            parser.feed(decompressor.decompress(piece))
        except zlib.error:
            break
        if parser.headers is not None or decompressor.eof:
            break
    return parser.headers


def _whole_record_at(stream: BinaryIO, offset: int) -> bool:
    try:
        next(scan_warc(stream, offset))
    except (WarcFormatError, StopIteration):
        return False
    return True


def read_warcinfo(stream: BinaryIO, limit: int = 1024 * 1024) -> dict[str, str]:
    """Fields of the warcinfo record that opens a file ({} if it does not start with one)."""
    stream.seek(0)
    try:
        data = zlib.decompressobj(31).decompress(stream.read(limit), limit)
    except zlib.error:
        return {}
    head, sep, block = data.partition(b"\r\n\r\n")
    if not sep or b"WARC-Type: warcinfo" not in head:
        return {}
    fields: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon and name and name not in fields:
            fields[name.strip()] = value.strip()
    return fields
