"""Spider middlewares of newsarchive.

:class:`RequisitesMiddleware` asks for the requisites of every archived HTML page (stylesheets,
images, scripts, icons, and the fonts and images its CSS names) so that replay can show the
page as it looked. Requisites are archived raw by the WARC capture middleware like any other
download; they get no extraction and no JSONL line, and no link is followed from them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import Response, TextResponse
from scrapy.utils.response import get_base_url

from newsarchive.base.mediatypes import CSS_TYPES, HTML_TYPES, mime_type
from newsarchive.base.meta import (
    CAPTURE_META_KEY,
    REFERRER_META_KEY,
    REQUISITE_META_KEY,
    REQUISITE_URLS_META_KEY,
    SEED_META_KEY,
)
from newsarchive.extract.requisites import absolute_urls, css_urls, requisites_in_tree
from newsarchive.store.archive import Archive

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

    from newsarchive.config import Config

logger = logging.getLogger(__name__)



def requisite_urls(response: TextResponse) -> list[str]:
    """Absolute http(s) URLs of what an HTML response loads to display, in document order."""
    return requisites_in_tree(response.selector.root, get_base_url(response))


class RequisitesMiddleware:
    """Adds requests for page requisites after what a callback yields (NEWSARCHIVE_REQUISITES;
    ``crawl --no-requisites`` turns it off). At most NEWSARCHIVE_REQUISITES_MAX per page, each
    body capped at NEWSARCHIVE_REQUISITES_MAXSIZE; robots.txt still applies, the crawl scope
    does not (requisites are often on other hosts). None is asked for on a host already found
    dead (crawl/downloadermiddlewares/deadhosts.py): it is counted there as not sent."""

    def __init__(self, crawler: Crawler, config: Config):
        self.crawler = crawler
        self.config = config
        self.stats = Archive.of(crawler).stats
        # 64-bit hashes of the requisites asked for in this run: most pages of a site share
        # their stylesheets, scripts and logos, and a Request the dupefilter drops costs more.
        self.requested: set[int] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = Archive.of(crawler).config
        if not config.requisites:
            raise NotConfigured("page requisites are off (--no-requisites)")
        return cls(crawler, config)

    def process_spider_output(
        self, response: Response, result: Iterable[Any], spider: Any = None
    ) -> Iterator[Any]:
        yield from result
        yield from self._requisites(response)

    async def process_spider_output_async(
        self, response: Response, result: AsyncIterator[Any], spider: Any = None
    ) -> AsyncIterator[Any]:
        async for output in result:
            yield output
        for request in self._requisites(response):
            yield request

    def _requisites(self, response: Response) -> Iterator[Request]:
        if not isinstance(response, TextResponse) or not 200 <= response.status < 300:
            return
        if CAPTURE_META_KEY not in response.meta:
            return  # not archived (not fetched by the raw-capture handler)
        level = response.meta.get(REQUISITE_META_KEY, 0)
        mime = mime_type(response.headers.get(b"Content-Type"))
        if level == 0 and mime in HTML_TYPES:
            urls = response.meta.get(REQUISITE_URLS_META_KEY)
            if urls is None:
                urls = requisite_urls(response)
        elif level == 1 and mime in CSS_TYPES:
            urls = absolute_urls(get_base_url(response), css_urls(response.text))
        else:
            return
        cap = self.config.requisites_max
        if len(urls) > cap:
            logger.info("%s: %d requisites, capturing the first %d", response.url, len(urls), cap)
        stats = self.stats
        for url in urls[:cap]:
            key = hash(url)
            if key in self.requested:
                continue
            self.requested.add(key)
            dead = stats.dead_host_of(url)
            if dead is None:
                yield self._request(url, response, level + 1)
            else:
                stats.dead_host_request(dead)

    def _request(self, url: str, page: Response, level: int) -> Request:
        spider = self.crawler.spider
        return Request(
            url,
            callback=getattr(spider, "parse_requisite", None),
            errback=getattr(spider, "requisite_failed", None),
            priority=-level,
            meta={
                REQUISITE_META_KEY: level,
                REFERRER_META_KEY: page.url,
                SEED_META_KEY: page.meta.get(SEED_META_KEY, page.url),
                "allow_offsite": True,  # CDNs: outside the crawl scope, but part of the page
                "download_maxsize": self.config.requisites_maxsize,
            },
            headers={"Referer": page.url},
        )

