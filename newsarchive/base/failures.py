"""The one error a crawl stops for: the archive cannot be written (full disk, read-only...).

Whatever was written before stays whole: the WARC writer cuts a half-written record back off,
the JSONL loses no complete line, and the crawl stops at once with a one-line message and exit 1.
"""

from __future__ import annotations

from scrapy.exceptions import DropItem, IgnoreRequest


class ArchiveWriteError(IgnoreRequest, DropItem):
    """Writing the archive failed; the archive is stopping.

    Raised from the download side it is an IgnoreRequest and from the item pipelines a DropItem,
    so Scrapy winds the request or item down quietly (no traceback per page) while the crawl is
    being stopped; the message is printed once, at the end of the run.
    """

    def __init__(self, message: str):
        IgnoreRequest.__init__(self, message)
        self.log_level = "DEBUG"


class DeadHostError(IgnoreRequest):
    """A request to a host that did not resolve, or refused connections, earlier in this run
    (newsarchive.crawl.downloadermiddlewares.deadhosts): failed without being sent, with the
    error the host first failed with. An IgnoreRequest: not retried, no traceback."""

    def __init__(self, host: str, reason: str):
        super().__init__(reason)
        self.host = host
        self.reason = reason


def describe_os_error(exc: OSError, path: object | None = None) -> str:
    where = path or exc.filename
    reason = exc.strerror or str(exc)
    return f"cannot write the archive: {reason}" + (f" ({where})" if where else "")


class RunStopping(IgnoreRequest):
    """A request a stopping run had not sent yet: it went back to the run's queue (for
    ``crawl --resume``), so its errback records nothing."""
