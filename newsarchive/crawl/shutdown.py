"""Stopping a crawl on SIGINT/SIGTERM: promptly, saying so, and resumable.

Scrapy's own handlers (CrawlerProcess) log the stop at INFO, which a crawl at WARNING never
shows, and its graceful stop still sends every request waiting in the downloader's per-host
queues, one per download delay (with AutoThrottle, about ten seconds of fetching). Here the
first signal prints one line, hands those waiting requests back to the scheduler (its JOBDIR
queue keeps them for ``crawl --resume``) and stops the crawler; the requests already on the
wire finish and are archived. A second signal stops the reactor at once: that run is resumed
like a killed one (newsarchive.schedule.runs).
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.ossignal import install_shutdown_handlers
from twisted.python.failure import Failure

from newsarchive.base.failures import RunStopping
from newsarchive.compat.scrapy import engine_scheduler, take_waiting_downloads

if TYPE_CHECKING:
    from scrapy.crawler import Crawler, CrawlerProcess

logger = logging.getLogger(__name__)


class GracefulStop:
    """``GracefulStop(crawler, run_id).start(process)`` instead of ``process.start()``."""

    def __init__(self, crawler: Crawler, run_id: str):
        self.crawler = crawler
        self.run_id = run_id
        self.signals = 0  # how many stop signals arrived
        self.requeued = 0

    def start(self, process: CrawlerProcess) -> None:
        """Run the process with these handlers in place of Scrapy's."""
        from twisted.internet import reactor  # the one CrawlerProcess installed

        reactor.addSystemEventTrigger("after", "startup", install_shutdown_handlers, self._first)
        process.start(install_signal_handlers=False)

    @property
    def interrupted(self) -> bool:
        return self.signals > 0

    def _first(self, signum: int, _frame: Any) -> None:
        # nothing but bookkeeping in the handler itself: the stream may be mid-write
        from twisted.internet import reactor

        self.signals = 1
        install_shutdown_handlers(self._second)
        reactor.callFromThread(self._stop)

    def _second(self, signum: int, _frame: Any) -> None:
        from twisted.internet import reactor

        self.signals = 2
        install_shutdown_handlers(signal.SIG_IGN)
        reactor.callFromThread(self._kill)

    def _stop(self) -> None:
        say(f"stopping run {self.run_id} after the requests in progress "
            "(Ctrl-C again to stop at once)")
        self.requeued = requeue_waiting_downloads(self.crawler)
        logger.info("%d requests not sent yet went back to the run's queue", self.requeued)
        deferred_from_coro(self.crawler.stop_async())

    def _kill(self) -> None:
        say(f"stopping run {self.run_id} at once (resuming it starts again from its seeds, "
            "without fetching again what it archived)")
        from twisted.internet import reactor

        if reactor.running:
            reactor.stop()


def requeue_waiting_downloads(crawler: Crawler) -> int:
    """Give the requests not yet sent back to the scheduler; their downloads end quietly
    (RunStopping). Returns how many."""
    scheduler = engine_scheduler(crawler)
    if scheduler is None:
        return 0
    waiting = take_waiting_downloads(crawler)
    for request, deferred in waiting:
        # the dupefilter saw it already: without dont_filter it would not be queued again
        scheduler.enqueue_request(request.replace(dont_filter=True))
        deferred.errback(Failure(RunStopping("the run is stopping; queued for --resume")))
    return len(waiting)


def say(message: str) -> None:
    print(f"newsarchive: {message}", file=sys.stderr, flush=True)
