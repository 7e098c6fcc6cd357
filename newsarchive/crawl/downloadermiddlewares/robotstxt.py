"""Scrapy's robots.txt middleware, with robots.txt obeyed by every request that waited for it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares import robotstxt as scrapy_robotstxt
from scrapy.utils.httpobj import urlparse_cached

if TYPE_CHECKING:

    from scrapy import Request



class RobotsTxtMiddleware(scrapy_robotstxt.RobotsTxtMiddleware):
    """Scrapy's RobotsTxtMiddleware, with robots.txt obeyed by every request that waited for it.

    Requests to a host whose robots.txt is still being fetched all await one Deferred; adapted
    to asyncio, the first waiter's callback consumes its result and the others get None, which
    the middleware reads as "no robots.txt": they are let through, disallowed or not (seen with
    several seeds on one host, and when a resumed run restores its queue). Once robots.txt is
    parsed the parser is stored per host, so a waiter given None looks it up there.
    """

    async def robot_parser(self, request: Request):
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(urlparse_cached(request).netloc)
            if stored is not None and not hasattr(stored, "addCallback"):  # not a Deferred
                return stored
        return parser
