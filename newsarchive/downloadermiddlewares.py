"""Downloader middlewares of newsarchive."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares import cookies as scrapy_cookies

from newsarchive.archive import Archive
from newsarchive.exchange import CAPTURE_META_KEY, EXCHANGE_META_KEY, Exchange
from newsarchive.urls import OFFLINE_TLD_EXTRACT

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
    """

    def __init__(self, archive: Archive):
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(Archive.of(crawler))

    def process_response(self, request: Request, response: Response) -> Response:
        exchange: Exchange | None = request.meta.pop(EXCHANGE_META_KEY, None)
        if exchange is None or self.archive.warc is None:
            return response  # not fetched by the raw-capture handler (data:, file:, cache)
        written_response, written_request = self.archive.warc.write_exchange(exchange)
        self.archive.record_written(written_response)
        self.archive.record_written(written_request)
        self.archive.stats.bytes_stored += len(exchange.body)
        request.meta[CAPTURE_META_KEY] = {
            "response": written_response,
            "truncated": exchange.truncated,
        }
        return response


class OfflineCookiesMiddleware(scrapy_cookies.CookiesMiddleware):
    """Scrapy's CookiesMiddleware, with its public-suffix check kept offline.

    Scrapy's module builds ``TLDExtract()`` with the default suffix-list URLs, which downloads
    the Public Suffix List on first use: a crawl would reach outside its scope (and stall on a
    firewalled network). The module-level extractor is swapped for the offline one the rest of
    newsarchive uses, once, when this middleware is loaded.
    """


scrapy_cookies._split_domain = OFFLINE_TLD_EXTRACT
