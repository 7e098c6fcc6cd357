"""Spider middlewares of newsarchive.

:class:`RequisitesMiddleware` asks for the requisites of every archived HTML page (stylesheets,
images, scripts, icons, and the fonts and images its CSS names) so that replay can show the
page as it looked. Requisites are archived raw by the WARC capture middleware like any other
download; they get no extraction and no JSONL line, and no link is followed from them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urlsplit

from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import Response, TextResponse

from newsarchive.archive import Archive
from newsarchive.config import REFERRER_META_KEY, SEED_META_KEY
from newsarchive.exchange import CAPTURE_META_KEY
from newsarchive.replay.rewrite import parse_srcset

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

    from newsarchive.config import Config

logger = logging.getLogger(__name__)

REQUISITE_META_KEY = "newsarchive_requisite"  # 1: named by a page, 2: named by its CSS
HTML_TYPES = ("text/html", "application/xhtml+xml")
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+?)\1\s*\)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(['"])([^'"]+)\1""", re.IGNORECASE)
_REL_TOKENS = "translate(@rel, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
_PAGE_URL_XPATHS = (
    f"//link[contains(concat(' ', normalize-space({_REL_TOKENS}), ' '), ' stylesheet ')]/@href",
    f"//link[contains(concat(' ', normalize-space({_REL_TOKENS}), ' '), ' icon ')]/@href",
    "//link[@rel='preload' or @rel='modulepreload'][@as!='fetch' or not(@as)]/@href",
    "//script/@src",
    "//img/@src",
    "//input[@type='image']/@src",
    "//video/@poster",
)
_SRCSET_XPATHS = ("//img/@srcset", "//picture/source/@srcset")


def requisite_urls(response: TextResponse) -> list[str]:
    """Absolute http(s) URLs of what an HTML page loads to display, in document order."""
    found: list[str] = []
    for xpath in _PAGE_URL_XPATHS:
        found.extend(response.xpath(xpath).getall())
    for xpath in _SRCSET_XPATHS:
        for srcset in response.xpath(xpath).getall():
            found.extend(url for url, _ in parse_srcset(srcset))
    for css in response.xpath("//style/text()").getall() + response.xpath("//@style").getall():
        found.extend(css_urls(css))
    return _absolute(response.urljoin, found)


def css_urls(css: str) -> list[str]:
    """URLs a stylesheet names (``url(...)`` and ``@import``), as written."""
    return [m.group(2) for m in _CSS_IMPORT.finditer(css)] + [
        m.group(2) for m in _CSS_URL.finditer(css)
    ]


def _absolute(join: Any, urls: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for url in urls:
        url = url.strip()
        if not url or url.startswith(("data:", "#", "javascript:", "blob:")):
            continue
        absolute = urldefrag(join(url))[0]
        if urlsplit(absolute).scheme in ("http", "https"):
            seen.setdefault(absolute)
    return list(seen)


class RequisitesMiddleware:
    """Adds requests for page requisites after what a callback yields (NEWSARCHIVE_REQUISITES;
    ``crawl --no-requisites`` turns it off). At most NEWSARCHIVE_REQUISITES_MAX per page, each
    body capped at NEWSARCHIVE_REQUISITES_MAXSIZE; robots.txt still applies, the crawl scope
    does not (requisites are often on other hosts)."""

    def __init__(self, crawler: Crawler, config: Config):
        self.crawler = crawler
        self.config = config

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
        mime = _mime(response)
        if level == 0 and mime in HTML_TYPES:
            urls = requisite_urls(response)
        elif level == 1 and mime == "text/css":
            urls = _absolute(response.urljoin, css_urls(response.text))
        else:
            return
        cap = self.config.requisites_max
        if len(urls) > cap:
            logger.info("%s: %d requisites, capturing the first %d", response.url, len(urls), cap)
        for url in urls[:cap]:
            yield self._request(url, response, level + 1)

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


def _mime(response: Response) -> str:
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
    return content_type.split(";")[0].strip().lower()
