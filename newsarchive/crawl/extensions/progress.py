"""The progress extension: one line on stderr every few seconds while crawling.

On a terminal by default, every NEWSARCHIVE_PROGRESS_INTERVAL seconds; with ``crawl --progress``
(NEWSARCHIVE_PROGRESS) also in a log, every NEWSARCHIVE_PROGRESS_LOG_INTERVAL seconds."""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING

from scrapy import signals
from twisted.internet import task

from newsarchive.compat.scrapy import engine_scheduler
from newsarchive.store.archive import Archive

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class Progress:
    """One progress line on stderr every few seconds while crawling (on a terminal by default)."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.archive = Archive.of(crawler)
        config = self.archive.config
        terminal = sys.stderr.isatty()
        self.enabled = config.progress if config.progress is not None else terminal
        self.interval = config.progress_interval if terminal else config.progress_log_interval
        self._loop: task.LoopingCall | None = None
        self._started = time.monotonic()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        extension = cls(crawler)
        if extension.enabled:
            crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
            crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self) -> None:
        self._started = time.monotonic()
        self._loop = task.LoopingCall(self.report)
        self._loop.start(self.interval, now=False)

    def spider_closed(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()

    def report(self) -> None:
        stats = self.crawler.stats
        fetched = stats.get_value("downloader/response_count", 0) if stats else 0
        elapsed = max(time.monotonic() - self._started, 1e-6)
        scheduler = engine_scheduler(self.crawler)
        queued = len(scheduler) if scheduler is not None else 0
        pages = self.archive.stats
        print(
            f"[newsarchive] {time.strftime('%H:%M:%S')} pages: {sum(pages.pages.values())} done, "
            f"{queued} queued; fetched {fetched} ({fetched / elapsed:.1f}/s), "
            f"extracted {pages.extracted}, errors {len(pages.errors)}",
            file=sys.stderr,
            flush=True,
        )
