"""The extraction workers: :class:`ExtractionPool` runs :func:`analyse_page` in worker processes
started with "spawn" (never by forking the crawler, whose reactor and threads must not be
copied), so parsing stays off Scrapy's reactor.

Time limits, from the inside out:

1. in the worker, SIGALRM interrupts a page after ``timeout`` seconds: the page gets
   ``extraction_error = "timed out after Ns"`` and the worker takes the next page;
2. in the worker, ``faulthandler`` ends the process if the page is still running
   ``HARD_GRACE`` seconds later (stuck in C code, where SIGALRM cannot reach);
3. in the parent, ``asyncio.wait_for`` gives up another ``PARENT_MARGIN`` seconds after that.

A worker that dies (killed, out of memory, case 2) breaks the executor; the pool replaces it and
the pages in flight get an ``extraction_error`` naming the failure.

Before a crawl fetches anything, :meth:`ExtractionPool.warm_up` extracts a known page in a worker:
extraction that cannot work (a dependency missing from the install) fails the run at once.
"""


from __future__ import annotations

import asyncio
import faulthandler
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from newsarchive.compat.trafilatura import DEFAULT_TUNING, Tuning
from newsarchive.extract.analysis import (
    PageAnalysis,
    PageJob,
    analyse_page,
    extract_page,
    failed_result,
)

logger = logging.getLogger(__name__)

HARD_GRACE = 5.0  # seconds past the soft limit before a stuck worker ends itself
PARENT_MARGIN = 10.0  # seconds past the hard limit before the parent gives up on a worker
MAX_RESTARTS = 3  # pools replaced in a row without a page finishing before giving up

_QUIET_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext", "charset_normalizer")


# --- worker side -----------------------------------------------------------------------------

# Extracted once by each worker before its first page (and by `newsarchive eval` before it
# times extraction): what trafilatura and jusText load on first use is not per page. Its text
# also proves that extraction works here (ExtractionPool.warm_up), which every crawl waits for,
# so it declares its language: py3langid's model, the slowest thing to load, is loaded by the
# first page that needs it, while the crawl is already fetching.
WARMUP_PAGE = (
    b"<html lang='en'><head><title>Warm-up</title></head><body><nav><a href='/'>Home</a></nav>"
    b"<article>"
    + b"<p>This paragraph only exists to load trafilatura's lazily built state.</p>" * 8
    + b"</article><footer>Imprint</footer></body></html>"
)
WARMUP_URL = "https://example.com/warm-up"


def _init_worker(tuning: Tuning = DEFAULT_TUNING) -> None:
    """Worker initializer: quiet per-page library logging, leave Ctrl-C to the parent, warm up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    extract_page(WARMUP_PAGE, WARMUP_URL, "text/html", tuning=tuning)


def _exit_with_parent() -> None:
    """End this worker when the crawl process dies, however it dies (SIGKILL, OOM).

    Idle workers otherwise wait forever: they hold both ends of their own task queue's pipe,
    so they never see EOF.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # waits on the parent's sentinel
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _analyse_in_worker(job: PageJob, time_limit: float, tuning: Tuning) -> PageAnalysis:
    """Worker entry point: the soft limit (SIGALRM) inside, a hard limit (process exit) around."""
    faulthandler.dump_traceback_later(time_limit + HARD_GRACE, exit=True)
    try:
        return analyse_page(job, time_limit=time_limit, tuning=tuning)
    finally:
        faulthandler.cancel_dump_traceback_later()


# --- parent side -----------------------------------------------------------------------------


class ExtractionUnavailable(Exception):
    """Extraction cannot work in this installation; the message says why."""


def _mp_context() -> multiprocessing.context.BaseContext:
    # "spawn", not "forkserver": workers import the same modules either way (the forkserver
    # preloads nothing of trafilatura), and the forkserver is one more process (~13 MB RSS).
    return multiprocessing.get_context("spawn")


class ExtractionPool:
    """Run `analyse_page` (and `extract_page`) in worker processes, awaitable from asyncio.

    At most two pages per worker are handed to the workers at a time (one running, one queued,
    so that a worker never waits for the reactor to send its next page); further calls wait
    their turn, and `pending` counts both, so a caller can hold back new work while it is high.

    Workers start with "spawn", which re-imports the main module: a script
    that creates a pool needs the usual ``if __name__ == "__main__":`` guard. If workers die
    `MAX_RESTARTS` times in a row without finishing a page (they cannot start at all), the pool
    stops replacing them and every page gets an extraction_error saying so.
    """

    QUEUED_PER_WORKER = 2

    def __init__(
        self, workers: int = 0, timeout: float = 30.0, tuning: Tuning = DEFAULT_TUNING
    ) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.timeout = timeout
        self.tuning = tuning  # how the workers run trafilatura (newsarchive.compat.trafilatura)
        self._context = _mp_context()
        self._started = False  # a worker has started (set from the executor's thread)
        self._executor = self._new_executor()
        self._slots = asyncio.Semaphore(self.workers * self.QUEUED_PER_WORKER)
        self._pending = 0
        self._restarts = 0  # pools replaced since a page last finished
        self._closed = False

    @property
    def ready(self) -> bool:
        """Whether a worker is up: workers take about a second to start (they import
        trafilatura and warm up), and callers with other ways may not want to wait for them."""
        return self._started

    @property
    def pending(self) -> int:
        """Pages submitted and not yet answered (running or waiting)."""
        return self._pending

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (for monitoring and tests)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return [pid for pid in list(processes) if isinstance(pid, int)]

    async def extract(
        self, body: bytes, url: str, content_type: str | None, include_html: bool = False
    ) -> dict[str, Any]:
        """Extract one page in a worker; failures come back as extraction_error."""
        job = PageJob(body, url, content_type, include_html=include_html)
        extraction = (await self.analyse(job)).extraction
        assert extraction is not None
        return extraction

    async def warm_up(self) -> None:
        """Extract the warm-up page in a worker, as every page will be; ExtractionUnavailable
        (with the page's extraction_error) unless it gave text."""
        extraction = await self.extract(WARMUP_PAGE, WARMUP_URL, "text/html")
        if not extraction.get("text"):
            reason = extraction.get("extraction_error") or "no text from the warm-up page"
            raise ExtractionUnavailable(reason)

    async def analyse(self, job: PageJob) -> PageAnalysis:
        """Analyse one page in a worker; a worker's failure comes back as the extraction_error
        (and no links or requisites)."""
        self._pending += 1
        try:
            async with self._slots:
                return await self._run(job)
        finally:
            self._pending -= 1

    def close(self) -> None:
        """Stop the workers (waits for pages already running)."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def _run(self, job: PageJob) -> PageAnalysis:
        if self._restarts > MAX_RESTARTS:
            return _failed(job, "extraction workers keep dying; extraction stopped")
        # a page may wait for the one queued before it on the same worker
        limit = self.QUEUED_PER_WORKER * (self.timeout + HARD_GRACE) + PARENT_MARGIN
        executor = self._executor
        try:
            executor, future = self._submit(job)
            result = await asyncio.wait_for(asyncio.wrap_future(future), limit)
        except BrokenProcessPool as exc:
            self._replace(executor)
            return _failed(job, f"extraction worker died ({type(exc).__name__})")
        except TimeoutError:
            self._replace(executor, kill=True)
            return _failed(job, f"timed out after {self.timeout:g}s (worker unresponsive)")
        self._restarts = 0
        return result

    def _submit(self, job: PageJob) -> tuple[ProcessPoolExecutor, Future[PageAnalysis]]:
        executor = self._executor
        try:
            return executor, executor.submit(_analyse_in_worker, job, self.timeout, self.tuning)
        except BrokenProcessPool:  # broke since the last page: replace it, try once more
            self._replace(executor)
            executor = self._executor
            return executor, executor.submit(_analyse_in_worker, job, self.timeout, self.tuning)

    def _new_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(self.tuning,),
        )
        # Workers start on demand, one per task waiting: start them all now, not on the
        # first pages, while the crawl is still fetching robots.txt and its seeds.
        for _ in range(self.workers):
            executor.submit(os.getpid).add_done_callback(self._worker_started)
        return executor

    def _worker_started(self, started: Future[int]) -> None:
        if not started.cancelled() and started.exception() is None:
            self._started = True

    def _replace(self, broken: ProcessPoolExecutor, kill: bool = False) -> None:
        """Swap in a fresh executor for `broken` (once, however many pages report it)."""
        if self._executor is broken and not self._closed and self._restarts <= MAX_RESTARTS:
            self._restarts += 1
            if self._restarts > MAX_RESTARTS:
                logger.error("extraction workers died %d times in a row; giving up", MAX_RESTARTS)
            else:
                logger.warning("extraction worker died; starting a new worker pool")
                self._executor = self._new_executor()
        if kill:
            _kill_workers(broken)
        broken.shutdown(wait=False, cancel_futures=True)


def _failed(job: PageJob, reason: str) -> PageAnalysis:
    extraction = failed_result(reason, job.include_html) if job.extract else None
    return PageAnalysis(extraction=extraction)


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.kill()
