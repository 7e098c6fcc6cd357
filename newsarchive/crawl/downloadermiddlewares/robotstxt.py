"""Scrapy's robots.txt middleware, with robots.txt obeyed by every request that waited for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares import robotstxt as scrapy_robotstxt
from scrapy.utils.httpobj import urlparse_cached

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.robotstxt import RobotParser


class RobotsTxtMiddleware(scrapy_robotstxt.RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, with robots.txt obeyed by every request that waited for it.

    Requests to a host whose robots.txt is still being fetched all await one Deferred; adapted
    to asyncio (Scrapy 2.14 on), the first waiter's callback consumes its result and the others
    get None, which the middleware reads as "no robots.txt": they are let through, disallowed
    or not (seen with several seeds on one host, and when a resumed run restores its queue).
    The request that fetched robots.txt always gets the parser, before any waiter resumes; the
    parser is kept here per host, so a waiter given None gets it from there.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self.parsed: dict[str, RobotParser] = {}

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        parser = await super().robot_parser(request)
        if parser is None:
            return self.parsed.get(netloc)
        self.parsed[netloc] = parser
        return parser
