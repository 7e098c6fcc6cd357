"""Scrapy's cookies middleware, with its public-suffix check kept offline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares import cookies as scrapy_cookies

from newsarchive.base.urls import OFFLINE_TLD_EXTRACT

if TYPE_CHECKING:

    pass



class OfflineCookiesMiddleware(scrapy_cookies.CookiesMiddleware):
    """Scrapy's CookiesMiddleware, with its public-suffix check kept offline.

    Scrapy's module builds ``TLDExtract()`` with the default suffix-list URLs, which downloads
    the Public Suffix List on first use: a crawl would reach outside its scope (and stall on a
    firewalled network). The module-level extractor is swapped for the offline one the rest of
    newsarchive uses, once, when this middleware is loaded.
    """


scrapy_cookies._split_domain = OFFLINE_TLD_EXTRACT
