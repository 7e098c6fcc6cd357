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
                record.msg, record.args = f"{message}: {reason}", None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


class OneLineLogs:
    """Extension: puts :class:`OneLineFailures` on Scrapy's root handler unless
    ``NEWSARCHIVE_TRACEBACKS`` is on (the handler is Scrapy's, installed per crawler)."""

    def __init__(self, crawler: Crawler):
        self.installed = False
        if Archive.of(crawler).config.tracebacks:
            return
        handler = get_scrapy_root_handler()
        if handler is not None and not any(
            isinstance(existing, OneLineFailures) for existing in handler.filters
        ):
            handler.addFilter(OneLineFailures())
            self.installed = True

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)
