"""HTTP content codings undone as a stream: the one decoder of archived payloads.

Replay, ``reextract`` and ``verify`` read archived HTTP bodies still content-encoded, as the
server sent them. :class:`ContentDecoder` undoes a ``Content-Encoding`` header's codings (gzip,
deflate zlib-wrapped or raw, br, zstd, identity; stacked ones like ``gzip, br`` right to left)
chunk by chunk, so no more than about ``chunk_size`` decoded bytes per coding are held at once,
however big the body inflates. A coding it does not know, and every coding applied before it,
is left in place and named by :attr:`ContentDecoder.remaining`. Uses the public streaming APIs
of zlib, brotli (``Decompressor.process``) and zstd (``compression.zstd`` from Python 3.14,
``backports.zstd`` before: the module Scrapy decodes zstd responses with).
"""

from __future__ import annotations

import gzip
import sys
import zlib
from collections.abc import Iterable, Iterator

import brotli

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

CHUNK_SIZE = 64 * 1024
KNOWN_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "identity"})
GZIP_OR_ZLIB = 47  # zlib wbits: either header
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class DecodingError(ValueError):
    """The body is not valid data of its declared coding."""


def parse_codings(content_encoding: str | None) -> list[str]:
    """The codings of a Content-Encoding value, in the order they were applied."""
    return [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]


class _Stage:
    """One coding undone: ``feed`` input, then ``end``; each yields bounded chunks."""

    done = False  # the coded stream reached its end

    def feed(self, data: bytes) -> Iterator[bytes]:
        raise NotImplementedError

    def end(self) -> Iterator[bytes]:
        return iter(())


class _Zlib(_Stage):
    """gzip (members one after another, as gzip(1) reads them) or deflate."""

    def __init__(self, coding: str, chunk_size: int):
        self.coding = coding
        self.chunk_size = chunk_size
        self.head = b""  # deflate: the first bytes, until a zlib header is told from raw deflate
        self.decompressor = None if coding == "deflate" else zlib.decompressobj(GZIP_OR_ZLIB)
        self.trailing = False  # past the end: what follows is ignored

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.trailing:
            return
        if self.decompressor is None:
            self.head += data
            if len(self.head) < 2:
                return
            data, self.head = self.head, b""
            self.decompressor = zlib.decompressobj(15 if _zlib_header(data) else -15)
        while data:
            if self.done:  # a gzip member ended: another may follow
                if self.coding == "deflate" or not data.startswith(GZIP_MAGIC):
                    self.trailing = True
                    return
                self.decompressor, self.done = zlib.decompressobj(GZIP_OR_ZLIB), False
            try:
                out = self.decompressor.decompress(data, self.chunk_size)
            except zlib.error as exc:
                raise DecodingError(f"{self.coding}: {exc}") from exc
            if out:
                yield out
            self.done = self.decompressor.eof
            data = self.decompressor.unused_data if self.done else self.decompressor.unconsumed_tail

    def end(self) -> Iterator[bytes]:
        if self.decompressor is None and self.head:  # a one-byte body: too short to tell
            self.decompressor = zlib.decompressobj(-15)
        if self.decompressor is not None and not self.done and not self.trailing:
            try:
                yield from _pieces(self.decompressor.flush(), self.chunk_size)
            except zlib.error as exc:
                raise DecodingError(f"{self.coding}: {exc}") from exc


def _zlib_header(data: bytes) -> bool:
    return data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and (data[0] << 8 | data[1]) % 31 == 0


class _Brotli(_Stage):
    def __init__(self, chunk_size: int):
        self.chunk_size = chunk_size
        self.decompressor = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.done or not data:
            return  # anything after the end of the stream is ignored
        try:
            out = self.decompressor.process(data, output_buffer_limit=self.chunk_size)
            # drained until it gives nothing: brotli 1.2.1's can_accept_more_data() is already
            # True while output is pending, and input fed then loses that output
            while out:
                yield out
                if self.decompressor.is_finished():
                    break
                out = self.decompressor.process(b"", output_buffer_limit=self.chunk_size)
            self.done = self.decompressor.is_finished()
        except brotli.error as exc:
            raise DecodingError(f"br: {exc}") from exc


class _Zstd(_Stage):
    """zstd frames one after another, as ``zstd -d`` reads them."""

    def __init__(self, chunk_size: int):
        self.chunk_size = chunk_size
        self.decompressor = zstd.ZstdDecompressor()
        self.trailing = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while not self.trailing:
            if self.done:  # a frame ended: another may follow
                if not data:
                    return
                if not _zstd_frame(data):
                    self.trailing = True
                    return
                self.decompressor, self.done = zstd.ZstdDecompressor(), False
            try:
                out = self.decompressor.decompress(data, self.chunk_size)
            except zstd.ZstdError as exc:
                raise DecodingError(f"zstd: {exc}") from exc
            if out:
                yield out
            data = b""
            if self.decompressor.eof:
                self.done, data = True, self.decompressor.unused_data
            elif self.decompressor.needs_input:
                return


def _zstd_frame(data: bytes) -> bool:
    """Whether bytes start a zstd frame or a skippable frame (RFC 8878)."""
    return data[:4] == ZSTD_MAGIC or (data[1:4] == b"\x2a\x4d\x18" and data[0] & 0xF0 == 0x50)


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _stage(coding: str, chunk_size: int) -> _Stage:
    if coding in ("gzip", "x-gzip", "deflate"):
        return _Zlib(coding, chunk_size)
    if coding == "br":
        return _Brotli(chunk_size)
    return _Zstd(chunk_size)


class ContentDecoder:
    """Undoes the codings of one ``Content-Encoding`` value over a body given in chunks.

    ``decode(chunk)`` and then ``finish()`` yield the decoded body in pieces; a body that is not
    valid data of its coding raises :class:`DecodingError`. A body that stops early (a truncated
    capture) gives what could be decoded, and :attr:`complete` is False.
    """

    def __init__(self, content_encoding: str | None, chunk_size: int = CHUNK_SIZE):
        codings = [c for c in parse_codings(content_encoding) if c != "identity"]
        unknown = [i for i, c in enumerate(codings) if c not in KNOWN_CODINGS]
        cut = unknown[-1] + 1 if unknown else 0
        self.remaining = codings[:cut]  # applied first, or not known: left in place
        self.undone = codings[cut:]
        self._stages = [_stage(coding, chunk_size) for coding in reversed(self.undone)]

    @property
    def complete(self) -> bool:
        """Whether every coding undone reached the end of its stream."""
        return all(stage.done for stage in self._stages)

    def decode(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def finish(self) -> Iterator[bytes]:
        for index, stage in enumerate(self._stages):
            for out in stage.end():
                yield from self._through(index + 1, out)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages):
            if data:
                yield data
            return
        for out in self._stages[index].feed(data):
            yield from self._through(index + 1, out)

    def stream(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """The whole body decoded, from its coded chunks."""
        for chunk in chunks:
            yield from self.decode(chunk)
        yield from self.finish()


def decode_content(payload: bytes, content_encoding: str | None, limit: int | None = None) -> bytes:
    """A body with its codings undone, whole or its first ``limit`` bytes; unknown ones kept."""
    out = bytearray()
    for piece in ContentDecoder(content_encoding).stream([payload]):
        out += piece
        if limit is not None and len(out) >= limit:
            return bytes(out[:limit])
    return bytes(out)


def encode_content(body: bytes, content_encoding: str) -> bytes:
    """A body with the codings of ``content_encoding`` applied, left to right (for test servers:
    ``deflate`` is zlib-wrapped, ``deflate-raw`` is deflate without the zlib header)."""
    for coding in parse_codings(content_encoding):
        if coding in ("gzip", "x-gzip"):
            body = gzip.compress(body, mtime=0)
        elif coding == "deflate":
            body = zlib.compress(body)
        elif coding == "deflate-raw":
            packer = zlib.compressobj(wbits=-15)
            body = packer.compress(body) + packer.flush()
        elif coding == "br":
            body = brotli.compress(body, quality=5)  # what servers use for dynamic pages
        elif coding == "zstd":
            body = zstd.compress(body)
        elif coding != "identity":
            raise ValueError(f"unknown content coding {coding!r}")
    return body
