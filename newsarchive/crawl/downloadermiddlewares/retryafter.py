"""Retries that honour ``Retry-After`` (Scrapy's RetryMiddleware retries 429/503 at once).

A 429 or 503 carrying ``Retry-After`` (seconds or an HTTP date) is retried after that long, at
most RETRY_TIMES times like any retry, and the rest of that host's queue waits as long. A server
asking for more than ``NEWSARCHIVE_RETRY_AFTER_MAX`` seconds is not retried: its answer is the
recorded outcome.
Every attempt is archived (WarcCaptureMiddleware sits closer to the downloader).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.response import response_status_message

from newsarchive.base.meta import RETRY_AFTER_META_KEY
from newsarchive.compat.scrapy import hold_download_slot
from newsarchive.config import Config

if TYPE_CHECKING:
    from typing import Self

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)
RETRY_AFTER_CODES = (429, 503)


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After value asks for, or None if absent or unreadable."""
    if value is None:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryAfterMiddleware(RetryMiddleware):
    def __init__(self, settings, max_delay: float, hold_host: bool = True):
        super().__init__(settings)
        self.max_delay = max_delay
        self.hold_host = hold_host  # NEWSARCHIVE_RETRY_AFTER_HOLD (docs/compat.md)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        config = Config.from_settings(crawler.settings)
        middleware = cls(crawler.settings, config.retry_after_max, config.retry_after_hold)
        middleware.crawler = crawler
        return middleware

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        delay = None
        if response.status in RETRY_AFTER_CODES and not request.meta.get("dont_retry"):
            delay = retry_after_seconds(response.headers.get(b"Retry-After"))
        if delay is None:
            return super().process_response(request, response)
        reason = response_status_message(response.status)
        if delay > self.max_delay:
            note = (f"Retry-After {delay:.0f}s exceeds NEWSARCHIVE_RETRY_AFTER_MAX "
                    f"({self.max_delay:g}s): not retried")
            logger.warning("%s: %s", request.url, note)
            request.meta[RETRY_AFTER_META_KEY] = note
            return response
        retry = self._retry(request, reason)
        if retry is None:
            request.meta[RETRY_AFTER_META_KEY] = "gave up after the retries Retry-After allowed"
            return response
        logger.info("%s: %s, retrying after %.1fs (Retry-After)", request.url, reason, delay)
        self._hold_host(request, delay)
        await asyncio.sleep(delay)
        return retry

    def _hold_host(self, request: Request, seconds: float) -> None:
        """The rest of the host's queue waits too: Retry-After speaks for the server."""
        if self.hold_host:
            hold_download_slot(self.crawler, request.meta.get("download_slot"), seconds)
