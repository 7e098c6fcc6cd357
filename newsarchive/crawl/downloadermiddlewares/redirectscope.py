"""Redirects stay inside the crawl's allowed domains.

Scrapy's OffsiteMiddleware lets through requests marked ``dont_filter``, and seeds are (a seed
is fetched even when a redirect led there first). RedirectMiddleware copies the flag onto every
hop, so without this check a seed redirecting to another site would be followed there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

from newsarchive.base.urls import in_scope

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler


class RedirectScopeMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if not request.meta.get("redirect_times"):
            return
        allowed = getattr(self.crawler.spider, "allowed_domains", None)
        if allowed and not in_scope(request.url, allowed):
            raise IgnoreRequest(
                f"redirect to {request.url} leaves the allowed domains ({', '.join(allowed)})"
            )
