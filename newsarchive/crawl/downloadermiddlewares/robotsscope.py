"""robots.txt is fetched wherever the request waiting for it may go.

Scrapy's RobotsTxtMiddleware asks for a host's robots.txt with a request of its own, which
Scrapy's OffsiteMiddleware (50) then checks against the crawl's allowed domains. A page's
requisites on a CDN are allowed off the scope (``allow_offsite``), but their host's robots.txt
was not: it was dropped, read as "no robots.txt", and the requisites were fetched unchecked.
Every robots.txt request comes from a request that already passed the offsite check (the robots
middleware, at 100, runs after it), so its robots.txt may leave the scope too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.http.request import NO_CALLBACK
from scrapy.utils.httpobj import urlparse_cached

if TYPE_CHECKING:
    from scrapy import Request


class RobotsTxtScopeMiddleware:
    """Marks the robots.txt middleware's own requests ``allow_offsite`` (priority below 50)."""

    def process_request(self, request: Request) -> None:
        if (
            request.callback is NO_CALLBACK
            and request.meta.get("dont_obey_robotstxt")
            and urlparse_cached(request).path == "/robots.txt"
        ):
            request.meta["allow_offsite"] = True
