"""The WARC capture middleware: every exchange the download handler saw, written as WARC records."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.http import Headers
from scrapy.responsetypes import responsetypes

from newsarchive.base.digests import sha1_digest
from newsarchive.base.meta import CAPTURE_META_KEY, EXCHANGE_META_KEY
from newsarchive.capture.exchange import Exchange
from newsarchive.capture.warc_writer import (
    IDENTICAL_PAYLOAD_DIGEST,
    SERVER_NOT_MODIFIED,
    WrittenRecord,
)
from newsarchive.store.archive import Archive
from newsarchive.store.records import StoredRecord, WarcRecords
from newsarchive.store.state import FetchState

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response


class WarcCaptureMiddleware:
    """Writes every exchange the download handler saw as a WARC request/response pair.

    It sits next to the downloader (priority 950), so it sees each response before
    HttpCompressionMiddleware decodes it and before RedirectMiddleware or RetryMiddleware consume
    it: every redirect hop, retry, robots.txt and error page is archived as received.
    The pointers of the capture are left in ``request.meta[CAPTURE_META_KEY]`` for the pipelines.

    Across runs (docs/scheduling.md) it also sends the validators of the last capture
    (If-None-Match / If-Modified-Since), writes a ``revisit`` record instead of a second copy of
    an unchanged payload, hands on the archived page in place of a 304's empty body, and, when a
    killed run is resumed, answers from the archive what that run already fetched.
    """

    def __init__(self, archive: Archive):
        self.archive = archive
        self.records = WarcRecords(archive.layout.warc)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(Archive.of(crawler))

    def process_request(self, request: Request) -> Response | None:
        known = self._known(request.url)
        if known is None:
            return None
        if self.archive.config.resume and known.run_id == self.archive.run_id:
            return self._replay(request, known)
        if known.etag and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = known.etag.encode("latin-1")
        if known.last_modified and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = known.last_modified.encode("latin-1")
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        exchange: Exchange | None = request.meta.pop(EXCHANGE_META_KEY, None)
        if exchange is None or self.archive.warc is None:
            return response  # not fetched by the raw-capture handler, or replayed
        state = self.archive.state
        known = self._known(exchange.url)
        profile = _revisit_profile(exchange, known)
        if profile and known is not None:
            written, written_request = self.archive.warc.write_revisit(
                exchange, known.full_capture, profile
            )
            full_capture = known.full_capture
            if known.run_id == self.archive.run_id:  # robots.txt given as a seed, a retry
                self.archive.stats.revisits_in_run += 1
        else:
            written, written_request = self.archive.warc.write_exchange(exchange)
            full_capture = written
            self.archive.stats.bytes_stored += len(exchange.body)
        self.archive.record_written(written, profile)
        self.archive.record_written(written_request)
        if exchange.proxy:
            self.archive.stats.proxies_used.add(exchange.proxy)
        if state is not None:
            fetch = _fetch_state(self.archive.run_id, exchange, written, full_capture, known)
            state.put_fetch(fetch)
        request.meta[CAPTURE_META_KEY] = {
            "response": written,
            "truncated": exchange.truncated,
            "error": exchange.error,  # e.g. malformed chunked encoding (the body is cut there)
            "received_status": exchange.status,
            "revisit_profile": profile,
        }
        if profile == SERVER_NOT_MODIFIED:
            return self._archived_response(request, full_capture) or response
        return response

    def _known(self, url: str) -> FetchState | None:
        """The URL's last fetch, if the capture revisits would refer to is still archived
        (a WARC file removed by a retention policy is not referred to again)."""
        state = self.archive.state
        known = state.get_fetch(url) if state is not None else None
        if known is None:
            return None
        return known if self.records.has_file(known.full_capture.pointer.file) else None

    def _replay(self, request: Request, known: FetchState) -> Response | None:
        response = self._archived_response(request, known.full_capture)
        if response is not None:
            request.meta[CAPTURE_META_KEY] = {
                "response": known.last_record,
                "truncated": None,
                "received_status": known.status,
                "revisit_profile": None,
                "replayed": True,
            }
        return response

    def _archived_response(self, request: Request, capture: WrittenRecord) -> Response | None:
        try:
            with self.records.open_pointer(capture.pointer) as opened:
                stored = opened.read()
        except (LookupError, OSError) as exc:
            self.archive.stats.errors.append(f"{request.url}: archived capture unreadable: {exc}")
            return None
        return response_from_capture(request, stored)


def response_from_capture(request: Request, stored: StoredRecord) -> Response:
    """A Scrapy response as the stored capture was received (body still content-encoded, so
    the downloader middlewares treat it as they treated the original)."""
    headers = Headers()
    for name, value in stored.http_headers:
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


def _revisit_profile(exchange: Exchange, known: FetchState | None) -> str | None:
    """Which revisit record this exchange is, or None for a full response record."""
    if known is None or not exchange.complete or exchange.truncated:
        return None
    if exchange.status == 304:
        return SERVER_NOT_MODIFIED
    if known.payload_digest and sha1_digest(exchange.body) == known.payload_digest:
        if exchange.status == known.full_capture.status:
            return IDENTICAL_PAYLOAD_DIGEST
    return None


def _fetch_state(
    run_id: str,
    exchange: Exchange,
    written: WrittenRecord,
    full_capture: WrittenRecord,
    known: FetchState | None,
) -> FetchState:
    def header(name: bytes) -> str | None:
        value = exchange.header(name)
        if value:
            return value.decode("latin-1")
        if exchange.status == 304 and known is not None:  # a 304 need not repeat validators
            return known.etag if name == b"ETag" else known.last_modified
        return None

    return FetchState(
        url=exchange.url,
        run_id=run_id,
        fetched_at=written.date,
        status=exchange.status,
        etag=header(b"ETag"),
        last_modified=header(b"Last-Modified"),
        payload_digest=full_capture.payload_digest,
        last_record=written,
        full_capture=full_capture,
    )
