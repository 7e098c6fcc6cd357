"""The extensions built by the crawler as Scrapy builds them: RunLifecycle holds the output's run
lock from the moment the crawler exists, opens the archive with the spider and, when it closes,
writes the manifest, prints the summary and lets the lock go; Progress prints its line when asked
or on a terminal."""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

import pytest
from scrapy import signals
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import Crawler

from newsarchive.crawl.extensions.lifecycle import RunLifecycle
from newsarchive.crawl.extensions.progress import Progress
from newsarchive.crawl.logformatter import OneLineFailures
from newsarchive.store.archive import Archive
from newsarchive.store.runlock import LOCK_NAME, RunLocked
from spiders.articles import ArticlesSpider
from tests.components.support import build_crawler
from tests.conftest import ROOT

T = TypeVar("T")


def extension(crawler: Crawler, cls: type[T]) -> T:
    """The instance of ``cls`` the crawler's extension manager built."""
    [found] = [ext for ext in crawler.extensions.middlewares if isinstance(ext, cls)]
    return found


def lock_is_free(output: Path) -> bool:
    """Whether another process could take the output's run lock now (a separate open file
    description conflicts with the holder's even in this process)."""
    fd = os.open(output / "state" / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def test_lock_taken_when_the_crawler_is_built(tmp_path: Path) -> None:
    crawler = build_crawler(tmp_path, extensions=True, NEWSARCHIVE_RUN_ID="run-1")
    lifecycle = extension(crawler, RunLifecycle)
    assert not lock_is_free(tmp_path)
    holder = json.loads((tmp_path / "state" / LOCK_NAME).read_text())
    assert (holder["run_id"], holder["pid"]) == ("run-1", os.getpid())
    lifecycle.archive.release()
    assert lock_is_free(tmp_path)


def test_second_crawler_on_the_same_output_is_refused(tmp_path: Path) -> None:
    holder = subprocess.Popen(  # another run, in another process, holding the output
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from newsarchive.store.runlock import RunLock; "
         f"RunLock.acquire(Path({str(tmp_path / 'state')!r}), 'other-run'); "
         "print('held', flush=True); sys.stdin.read()"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(RunLocked, match="other-run"):
            build_crawler(tmp_path, extensions=True, NEWSARCHIVE_RUN_ID="run-2")
    finally:
        holder.communicate("")
    assert holder.returncode == 0
    assert not (tmp_path / "runs").exists()  # refused before anything was written


def test_run_from_spider_opened_to_spider_closed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crawler = build_crawler(tmp_path, ArticlesSpider, extensions=True, NEWSARCHIVE_RUN_ID="run-1")
    archive = Archive.of(crawler)
    spider = ArticlesSpider.from_crawler(crawler, seeds="https://news.example.org/")
    crawler.signals.send_catch_log(signals.spider_opened, spider=spider)

    manifest_path = tmp_path / "runs" / "run-1.json"
    started = json.loads(manifest_path.read_text())
    assert started["run_id"] == "run-1" and started["finished"] is None
    assert archive.warc is not None and (tmp_path / "articles" / "run-1.jsonl").exists()
    archive.write_jsonl({"url": "https://news.example.org/", "run_id": "run-1"})

    crawler.signals.send_catch_log(signals.spider_closed, spider=spider, reason="finished")
    manifest = json.loads(manifest_path.read_text())
    assert manifest["finished"] is not None and manifest["finish_reason"] == "finished"
    assert "articles/run-1.jsonl" in manifest["files"]
    assert manifest["settings"]["NEWSARCHIVE_RUN_ID"] == "run-1"
    assert lock_is_free(tmp_path)
    assert not list((tmp_path / "index").glob(".pending-*"))  # index merged at close
    summary = capsys.readouterr().err
    assert "run-1" in summary and str(manifest_path) in summary


def test_progress_off_when_stderr_is_not_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    crawler = build_crawler(tmp_path, extensions=True, NEWSARCHIVE_PROGRESS=None)
    assert extension(crawler, Progress).enabled is False
    extension(crawler, RunLifecycle).archive.release()


def test_progress_on_a_terminal_unless_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stderr", Terminal())
    automatic = build_crawler(tmp_path / "a", extensions=True, NEWSARCHIVE_PROGRESS=None)
    turned_off = build_crawler(tmp_path / "b", extensions=True, NEWSARCHIVE_PROGRESS=False)
    assert extension(automatic, Progress).enabled is True
    assert extension(turned_off, Progress).enabled is False
    for crawler in (automatic, turned_off):
        extension(crawler, RunLifecycle).archive.release()


def test_progress_line_when_turned_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    crawler = build_crawler(tmp_path, NEWSARCHIVE_PROGRESS=True)  # RunLifecycle not needed here
    progress = Progress.from_crawler(crawler)
    assert progress.enabled is True
    crawler.stats.set_value("downloader/response_count", 7)
    progress.archive.stats.extracted = 5
    progress.archive.stats.errors.append("https://news.example.org/x: timed out")

    async def crawl_started() -> None:
        # Its lines are printed while crawling: the crawler's engine exists. (Its timer is
        # Twisted's LoopingCall, which needs a reactor: the line is asked for here directly.)
        crawler.engine = ExecutionEngine(crawler, lambda spider: None)
        try:
            progress.report()
        finally:
            await crawler.engine.close_async()

    asyncio.run(crawl_started())
    line = capsys.readouterr().err
    assert line.count("\n") == 1
    assert "fetched 7" in line and "extracted 5" in line and "errors 1" in line
    assert "pages: 0 done, 0 queued;" in line


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_one_line_failures_keep_the_reason_and_drop_the_traceback() -> None:
    def record_of(message: str, *args: object) -> logging.LogRecord:
        try:
            raise ConnectionRefusedError("Connect call failed ('127.0.0.1', 9)")
        except ConnectionRefusedError:
            return logging.LogRecord("scrapy.core.scraper", logging.ERROR, __file__, 1,
                                     message, args, sys.exc_info())

    handler_format = logging.Formatter("%(levelname)s: %(message)s")
    without_reason = record_of("Spider error processing %s", "<GET http://127.0.0.1:9/>")
    assert OneLineFailures().filter(without_reason)
    assert handler_format.format(without_reason) == (
        "ERROR: Spider error processing <GET http://127.0.0.1:9/>: ConnectionRefusedError: "
        "Connect call failed ('127.0.0.1', 9)"
    )
    with_reason = record_of("Error downloading %s: Connect call failed ('127.0.0.1', 9)",
                            "<GET http://127.0.0.1:9/>")
    assert OneLineFailures().filter(with_reason)
    assert "\n" not in handler_format.format(with_reason)
    assert handler_format.format(with_reason).count("Connect call failed") == 1
