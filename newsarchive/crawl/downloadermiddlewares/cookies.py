"""Scrapy's cookies middleware, with its public-suffix check kept offline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.downloadermiddlewares import cookies as scrapy_cookies

from newsarchive.base.urls import OFFLINE_TLD_EXTRACT
from newsarchive.compat.scrapy import use_offline_public_suffixes
from newsarchive.config import Config

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler


class OfflineCookiesMiddleware(scrapy_cookies.CookiesMiddleware):
    """Scrapy's CookiesMiddleware, with its public-suffix check kept offline.

    Scrapy checks a cookie's Domain against the Public Suffix List with a ``TLDExtract()`` that
    downloads the list on first use: a crawl would reach outside its scope (and stall on a
    firewalled network). While the crawl runs, the check uses the bundled list, as the rest of
    newsarchive does (``NEWSARCHIVE_OFFLINE_PUBLIC_SUFFIXES``; newsarchive.compat.scrapy).
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        middleware = super().from_crawler(crawler)
        enabled = Config.from_settings(crawler.settings).offline_public_suffixes
        restore = use_offline_public_suffixes(OFFLINE_TLD_EXTRACT, enabled)
        if restore is not None:
            crawler.signals.connect(restore, signal=signals.engine_stopped, weak=False)
        return middleware
