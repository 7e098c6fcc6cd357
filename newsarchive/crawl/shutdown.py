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
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.ossignal import install_shutdown_handlers
from twisted.python.failure import Failure

from newsarchive.base.failures import RunStopping
from newsarchive.compat.scrapy import engine_scheduler, take_waiting_downloads
from newsarchive.store.archive import Archive

if TYPE_CHECKING:
    from scrapy.crawler import Crawler, CrawlerProcess

logger = logging.getLogger(__name__)


class GracefulStop:
    """``stop = GracefulStop(run_id); stop.install()`` before Scrapy is set up (a signal while
    it starts is kept until its engine runs), then ``stop.start(process, crawler)`` instead of
    ``process.start()``."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.crawler: Crawler | None = None
        self.signals = 0  # how many stop signals arrived
        self.requeued = 0
        self._running = False  # the engine started: the reactor runs the stop
        self._done = 0  # stop steps taken (1: graceful, 2: at once)

    def install(self) -> None:
        install_shutdown_handlers(self._first)

    def start(self, process: CrawlerProcess, crawler: Crawler) -> None:
        """Run the process with these handlers in place of Scrapy's."""
        self.crawler = crawler
        crawler.signals.connect(self._engine_started, signal=signals.engine_started)
        process.start(install_signal_handlers=False)

    @property
    def interrupted(self) -> bool:
        return self.signals > 0

    def _engine_started(self) -> None:
        self._running = True
        self._act()

    # In the handlers themselves nothing but bookkeeping: the interrupted code may be writing to
    # stderr, and before the engine runs there may be no reactor to call.
    def _first(self, signum: int, _frame: Any) -> None:
        self.signals = 1
        install_shutdown_handlers(self._second)
        self._call_soon()

    def _second(self, signum: int, _frame: Any) -> None:
        self.signals = 2
        if not self._running:  # still starting: die of the signal, as any program would
            install_shutdown_handlers(signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        install_shutdown_handlers(signal.SIG_IGN)
        self._call_soon()

    def _call_soon(self) -> None:
        if self._running:
            from twisted.internet import reactor  # installed and running by now

            reactor.callFromThread(self._act)

    def _act(self) -> None:
        if self.signals >= 1 and self._done < 1:
            engine = self.crawler.engine if self.crawler is not None else None
            if engine is None or not engine.running:
                # engine_started comes before the engine runs; a crawler stopped before that
                # never stops its engine (Scrapy's stop_async): try again in a moment
                from twisted.internet import reactor

                reactor.callLater(0.05, self._act)
                return
            self._done = 1
            self._stop()
        if self.signals >= 2 and self._done < 2:
            self._done = 2
            self._kill()

    def _stop(self) -> None:
        say(f"stopping run {self.run_id} after the requests in progress "
            "(Ctrl-C again to stop at once)")
        assert self.crawler is not None
        if Archive.of(self.crawler).config.stop_requeue:
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
