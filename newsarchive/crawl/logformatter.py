"""One line per failure in the crawl's log: the message and the exception's reason, without the
traceback (a dead site would print two of fifty lines each per request, every cron run).

Scrapy and its middlewares log failures with ``exc_info`` (robots.txt errors, "Error
downloading", spider and pipeline errors); the LogFormatter only shapes the message, the caller
adds the traceback. So the filter sits on Scrapy's root log handler: it folds the exception into
the message's line. ``NEWSARCHIVE_TRACEBACKS`` (``crawl -v``) keeps the full tracebacks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.utils.log import get_scrapy_root_handler

from newsarchive.store.archive import Archive

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler


class OneLineFailures(logging.Filter):
    """Drops a record's traceback, adding the exception's own message if the record's lacks it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            reason = str(error) or type(error).__name__
            message = record.getMessage()
            if reason not in message:
                record.msg, record.args = f"{message}: {type(error).__name__}: {reason}", None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


class OneLineLogs:
    """Extension: puts :class:`OneLineFailures` on Scrapy's root log handler when the engine
    starts (Scrapy installs that handler again once the crawler's settings are applied, after
    the extensions are built), unless ``NEWSARCHIVE_TRACEBACKS`` is on."""

    def __init__(self, crawler: Crawler):
        self.enabled = not Archive.of(crawler).config.tracebacks

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        extension = cls(crawler)
        if extension.enabled:
            crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        return extension

    def engine_started(self) -> None:
        handler = get_scrapy_root_handler()
        if handler is not None and not any(
            isinstance(existing, OneLineFailures) for existing in handler.filters
        ):
            handler.addFilter(OneLineFailures())
