"""Interrupts and resume, and what a crawl prints: real CLI runs stopped with real signals.

The first SIGINT/SIGTERM says that the run is stopping and stops it promptly (exit 4, a resume
hint), a second stops it at once; ``crawl --resume [RUN_ID]`` continues it whatever ran in
between, and its manifest counts all its parts. A failed request is one log line at the default
level; ``-v`` shows the traceback, ``-q`` prints nothing when all is well.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from newsarchive.base.exitcodes import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL
from newsarchive.schedule.runs import resumable_run
from newsarchive.store.layout import Layout
from tests.conftest import NEWSARCHIVE, ROOT, run_newsarchive, write_seed_document
from tests.hostile_server import HostileServer

# one request at a time, 0.3 s apart: the signal lands mid-crawl
SLOW = ("--concurrency", "1", "-s", "DOWNLOAD_DELAY=0.3", "-s", "AUTOTHROTTLE_ENABLED=False")
# a polite crawl of one host: up to 8 requests wait in the downloader's queue for that host,
# sent 0.5 s apart (Scrapy's own graceful stop fetched them all first: 8 requests, 5.7 s)
POLITE = ("-s", "CONCURRENT_REQUESTS=8", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
          "-s", "DOWNLOAD_DELAY=0.5", "-s", "AUTOTHROTTLE_ENABLED=False")


def start_crawl(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*NEWSARCHIVE, "crawl", *args],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def manifest_of(output: Path, run_id: str) -> dict:
    return json.loads((output / "runs" / f"{run_id}.json").read_text())


def run_id_in(stderr: str) -> str:
    line = next(line for line in stderr.splitlines() if "resume with `" in line)
    return line.split("--resume ", 1)[1].split()[0]


@pytest.fixture(scope="module")
def interrupted(site, tmp_path_factory):
    """A crawl stopped by Ctrl-C mid-crawl, then another run on the same output (as a cron
    job would start), then ``crawl --resume RUN_ID``; and a reference crawl of the same site."""
    work = tmp_path_factory.mktemp("interrupted")
    seed = write_seed_document(site, work)
    reference = run_newsarchive("crawl", str(seed), "-o", str(work / "reference"))
    output = work / "out"
    site.clear()
    victim = start_crawl(str(seed), "-o", str(output), *POLITE, "-v")
    wait_for(lambda: len(site.paths) >= 4)
    served_at_signal = len(site.paths)
    signalled = time.monotonic()
    victim.send_signal(signal.SIGINT)
    _, victim_err = victim.communicate(timeout=60)
    stop_seconds = time.monotonic() - signalled
    served_after_signal = len(site.paths) - served_at_signal
    saved_queues = list((output / "state" / "jobs").glob("*/requests.queue/active.json"))
    between = run_newsarchive("crawl", f"{site.base_url}/index.html", "--depth", "0",
                              "-o", str(output))
    run_id = run_id_in(victim_err)
    resumed = run_newsarchive("crawl", "--resume", run_id, "-o", str(output))
    return {
        "reference": reference, "output": output, "run_id": run_id,
        "victim_rc": victim.returncode, "victim_err": victim_err, "stop_seconds": stop_seconds,
        "served_after_signal": served_after_signal, "saved_queues": saved_queues,
        "between": between, "resumed": resumed,
    }


def test_first_signal_says_it_is_stopping_and_stops_promptly(interrupted):
    err = interrupted["victim_err"]
    assert interrupted["victim_rc"] == EXIT_INTERRUPTED, err
    assert (
        f"newsarchive: stopping run {interrupted['run_id']} after the requests in progress "
        "(Ctrl-C again to stop at once)\n"
    ) in err
    assert interrupted["stop_seconds"] < 3
    assert interrupted["served_after_signal"] <= 1  # only the request on the wire, if any
    requeued = next(line for line in err.splitlines() if "not sent yet went back" in line)
    assert int(requeued.split("INFO: ")[1].split()[0]) > 0  # the waiting ones, unsent
    assert "Traceback" not in err


def test_interrupted_summary_says_how_to_resume(interrupted):
    output, run_id = interrupted["output"], interrupted["run_id"]
    assert f"interrupted: resume with `newsarchive crawl --resume {run_id} -o {output}`" in (
        interrupted["victim_err"]
    )
    assert [path.parent.parent.name for path in interrupted["saved_queues"]] == [run_id]


def test_a_new_run_mentions_the_interrupted_one_and_still_runs(interrupted):
    between = interrupted["between"]
    assert between.returncode == EXIT_OK, between.stderr
    run_id = interrupted["run_id"]
    assert f"note: run {run_id} (interrupted on " in between.stderr
    assert f"`newsarchive crawl --resume {run_id} -o {interrupted['output']}`" in between.stderr


def test_resume_continues_the_named_run_after_another_run(interrupted):
    resumed = interrupted["resumed"]
    assert resumed.returncode == EXIT_OK, resumed.stderr
    assert f"newsarchive run {interrupted['run_id']} finished (finished)" in resumed.stderr
    assert "resumed:    part 2 of the run;" in resumed.stderr
    output, run_id = interrupted["output"], interrupted["run_id"]
    lines = [json.loads(line) for line in
             (output / "articles" / f"{run_id}.jsonl").read_text().splitlines()]
    urls = [line["url"] for line in lines]
    assert len(urls) == len(set(urls))
    assert set(urls) == {line["url"] for line in interrupted["reference"].jsonl_lines()}
    assert not (output / "state" / "jobs" / run_id).exists()


def test_manifest_of_a_resumed_run_counts_all_its_parts(interrupted):
    manifest = manifest_of(interrupted["output"], interrupted["run_id"])
    reference = interrupted["reference"].manifests()[0]
    parts = manifest["parts"]
    assert [part["finish_reason"] for part in parts] == ["shutdown", "finished"]
    assert manifest["started"] == parts[0]["started"] <= parts[0]["finished"] <= parts[1]["started"]
    assert manifest["finished"] == parts[1]["finished"]
    stats, expected = manifest["stats"], reference["stats"]
    assert stats["pages_by_status"] == expected["pages_by_status"]
    assert stats["extracted"] == expected["extracted"]
    assert stats["seeds_archived"] == stats["seeds_total"] == expected["seeds_total"]
    assert sum(stats["changes"].values()) == sum(expected["changes"].values())


def test_resumed_archive_verifies(interrupted):
    verify = run_newsarchive("verify", "-o", str(interrupted["output"]))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_switched_off_waiting_requests_are_fetched_and_the_archive_is_the_same(
    interrupted, site, tmp_path
):
    """NEWSARCHIVE_STOP_REQUEUE=False leaves Scrapy's downloader queues alone (docs/compat.md):
    the first Ctrl-C still stops the run with exit 4, after what was waiting is fetched, and
    resuming it completes the same archive."""
    seed = write_seed_document(site, tmp_path)
    output = tmp_path / "out"
    site.clear()
    victim = start_crawl(str(seed), "-o", str(output), *POLITE, "-v",
                         "-s", "NEWSARCHIVE_STOP_REQUEUE=False")
    wait_for(lambda: len(site.paths) >= 4)
    victim.send_signal(signal.SIGINT)
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == EXIT_INTERRUPTED, err
    assert "not sent yet went back" not in err and "Traceback" not in err
    resumed = run_newsarchive("crawl", "--resume", run_id_in(err), "-o", str(output))
    assert resumed.returncode == EXIT_OK, resumed.stderr
    urls = [line["url"] for line in resumed.jsonl_lines()]
    assert len(urls) == len(set(urls))
    assert set(urls) == {line["url"] for line in interrupted["reference"].jsonl_lines()}


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


def test_second_signal_stops_at_once_and_leaves_a_resumable_run(site, hostile, tmp_path):
    output = tmp_path / "out"
    # /silent never answers: the first signal's stop waits for it, the second does not
    victim = start_crawl(hostile.url("/silent"), "-o", str(output), "-s", "DOWNLOAD_TIMEOUT=60",
                         "-s", "RETRY_TIMES=0")
    wait_for(lambda: hostile.hits["/silent"] >= 1)
    victim.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert victim.poll() is None  # waiting for the request in progress
    signalled = time.monotonic()
    victim.send_signal(signal.SIGTERM)
    _, err = victim.communicate(timeout=30)
    assert time.monotonic() - signalled < 5
    assert victim.returncode == EXIT_INTERRUPTED, err
    assert "at once" in err
    run_id = run_id_in(err)
    assert f"resume with `newsarchive crawl --resume {run_id} -o {output}`" in err
    resumed = run_newsarchive("crawl", "--resume", "-o", str(output), "-s", "DOWNLOAD_TIMEOUT=1",
                              "-s", "RETRY_TIMES=0")
    assert resumed.returncode == EXIT_PARTIAL, resumed.stderr  # /silent timed out, again
    manifest = manifest_of(output, run_id)
    assert [part["finish_reason"] for part in manifest["parts"]] == [None, "finished"]


def test_resume_of_a_finished_or_unknown_run_lists_the_interrupted_ones(tmp_path):
    layout = Layout(tmp_path)
    layout.runs.mkdir(parents=True)
    runs = [("20261201T100000Z-aaaa", "shutdown", True),  # interrupted, job state kept
            ("20261201T110000Z-bbbb", "shutdown", False),  # its job state is gone
            ("20261201T120000Z-cccc", "finished", False)]  # the latest run, finished
    for run_id, reason, jobdir in runs:
        manifest = {"run_id": run_id, "started": f"2026-12-01T{run_id[9:11]}:00:00Z",
                    "finished": f"2026-12-01T{run_id[9:11]}:30:00Z", "finish_reason": reason}
        (layout.runs / f"{run_id}.json").write_text(json.dumps(manifest))
        if jobdir:
            (layout.state / "jobs" / run_id).mkdir(parents=True)
    assert resumable_run(layout)["run_id"] == "20261201T100000Z-aaaa"
    finished = run_newsarchive("crawl", "--resume", "20261201T120000Z-cccc", "-o", str(tmp_path))
    assert finished.returncode == 1
    assert "run 20261201T120000Z-cccc ended (finished)" in finished.stderr
    assert "interrupted runs: 20261201T100000Z-aaaa (interrupted on 2026-12-01T10:30:00Z)" in (
        finished.stderr
    )
    unknown = run_newsarchive("crawl", "--resume", "20261201T090000Z-dddd", "-o", str(tmp_path))
    assert unknown.returncode == 1
    assert "no run 20261201T090000Z-dddd" in unknown.stderr
    assert "20261201T100000Z-aaaa" in unknown.stderr


# -- what a crawl prints -------------------------------------------------------------------


def test_failed_request_is_one_line_without_traceback(tmp_path):
    down = run_newsarchive("crawl", "http://127.0.0.1:9/", "-o", str(tmp_path / "a"))
    assert down.returncode == EXIT_PARTIAL
    assert "Traceback" not in down.stderr
    log = [line for line in down.stderr.splitlines() if " ERROR: " in line or " WARNING: " in line]
    assert len(log) == 1 and "127.0.0.1:9 refused the connection" in log[0]
    summary_at = next(i for i, line in enumerate(down.stderr.splitlines())
                      if line.startswith("newsarchive run "))
    assert summary_at == len(log)  # nothing but those lines before the summary
    # a dead host's requests are ignored (IgnoreRequest): no traceback even with -v
    verbose = run_newsarchive("crawl", "-v", "http://127.0.0.1:9/", "-o", str(tmp_path / "b"),
                              "-s", "RETRY_TIMES=0", "-s", "NEWSARCHIVE_DEAD_HOSTS=False")
    assert "Traceback" in verbose.stderr
    assert " INFO: " in verbose.stderr


def test_quiet_run_prints_nothing_when_all_is_well(site, tmp_path):
    quiet = run_newsarchive("crawl", "-q", f"{site.base_url}/index.html", "--depth", "0",
                            "-o", str(tmp_path / "ok"))
    assert quiet.returncode == EXIT_OK
    assert quiet.stderr == ""
    failed = run_newsarchive("crawl", "-q", "http://127.0.0.1:9/", "-o", str(tmp_path / "down"),
                             "-s", "RETRY_TIMES=0")
    assert failed.returncode == EXIT_PARTIAL
    assert "seed failed: http://127.0.0.1:9/" in failed.stderr  # the summary, as it failed
    assert "Traceback" not in failed.stderr


def test_progress_lines_in_a_log(site, tmp_path):
    run = run_newsarchive("crawl", f"{site.base_url}/index.html", "--depth", "0",
                          "-o", str(tmp_path / "out"), "--progress", *SLOW,
                          "-s", "NEWSARCHIVE_PROGRESS_LOG_INTERVAL=0.2")
    assert run.returncode == EXIT_OK, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("[newsarchive]")]
    assert lines
    assert all(" done, " in line and " queued; fetched " in line for line in lines)
    without = run_newsarchive("crawl", f"{site.base_url}/index.html", "--depth", "0",
                              "-o", str(tmp_path / "out2"))
    assert "[newsarchive]" not in without.stderr  # not a terminal, not asked for


def test_signal_while_the_seeds_are_read_stops_before_anything_is_fetched(site, tmp_path):
    """100,000 seeds take a while to read; a signal then stops the run at once (kept by the
    crawl's handler, never raised into the code reading them), and nothing is fetched."""
    seeds = tmp_path / "seeds.txt"
    seeds.write_text("".join(f"{site.base_url}/page-{n}.html\n" for n in range(100_000)))
    output = tmp_path / "out"
    victim = start_crawl(str(seeds), "-o", str(output), *SLOW)
    wait_for(lambda: (output / "state" / "run.lock").exists())
    victim.send_signal(signal.SIGINT)
    _, err = victim.communicate(timeout=60)
    assert victim.returncode == EXIT_INTERRUPTED, err
    assert "interrupted while starting: nothing was fetched" in err and "Traceback" not in err
    assert not list(output.glob("warc/*.warc.gz*"))


def test_signal_while_starting_stops_the_run_once_it_runs(site, tmp_path):
    output = tmp_path / "out"
    victim = start_crawl(f"{site.base_url}/index.html", "-o", str(output), *SLOW)
    # the lock is taken before Scrapy is set up: the signal lands while it starts
    wait_for(lambda: (output / "state" / "run.lock").exists())
    victim.send_signal(signal.SIGINT)
    _, err = victim.communicate(timeout=60)  # no hang: the stop waits for the engine to run
    assert victim.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err
    assert "stopping run" in err or "interrupted" in err
