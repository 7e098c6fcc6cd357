"""Distributed crawls: two worker processes on one real Redis, against the real fixture server.

Redis: NEWSARCHIVE_TEST_REDIS_URL (set by .ci/run, which starts a redis-server on a free port),
or else a redis-server this module starts on a free port; skipped only when none is installed.
Each test gets a Redis database of its own, flushed first.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from warcio.archiveiterator import ArchiveIterator

from newsarchive.demo.server import SiteServer
from newsarchive.store.repair import run_of
from tests.conftest import NEWSARCHIVE, ROOT, run_newsarchive

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
SECTIONS = 4
PER_SECTION = 16  # articles linked from each section page; neighbours share 4
WORKER_OPTIONS = ("--concurrency", "2", "--no-requisites", "-s", "NEWSARCHIVE_REDIS_IDLE_CLOSE=3",
                  "-s", "NEWSARCHIVE_REDIS_HEARTBEAT_TTL=3", "-s", "NEWSARCHIVE_EXTRACT_WORKERS=2")


# -- Redis -----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_base(tmp_path_factory) -> Iterator[str]:
    """redis://127.0.0.1:PORT of a running server (without a database number)."""
    given = os.environ.get("NEWSARCHIVE_TEST_REDIS_URL")
    if given:
        yield given.rstrip("/").rsplit("/", 1)[0] if given.count("/") > 2 else given.rstrip("/")
        return
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}"
    server.terminate()
    server.wait(10)


_databases = iter(range(1, 16))


@pytest.fixture
def redis_url(redis_base) -> str:
    url = f"{redis_base}/{next(_databases)}"
    redis.Redis.from_url(url).flushdb()
    return url


# -- the fixture site: section pages (the seeds) linking to overlapping sets of articles --------
def article_path(number: int) -> str:
    return f"/2024/05/{1 + number % 28:02d}/harbour-story-number-{number}-a{20000 + number}.html"


def section_articles(section: int) -> list[int]:
    start = section * (PER_SECTION - 4)
    return list(range(start, start + PER_SECTION))


def all_articles() -> set[int]:
    return {n for section in range(SECTIONS) for n in section_articles(section)}


def build_site(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    for section in range(SECTIONS):
        links = "\n".join(
            f'<li><a href="{article_path(n)}">Harbour story number {n}</a></li>'
            for n in section_articles(section)
        )
        page = root / f"section-{section}" / "index.html"
        page.parent.mkdir(parents=True)
        page.write_text(f"<html><head><title>Section {section}</title></head><body>"
                        f"<h1>Section {section}</h1><ul>{links}</ul></body></html>")
    for number in all_articles():
        paragraphs = "".join(
            f"<p>Paragraph {i} of harbour story {number}: the harbour commission met again "
            f"and discussed the dredging of berth {i} at some length before adjourning.</p>"
            for i in range(8)
        )
        page = root / article_path(number).lstrip("/")
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            f"<html><head><title>Harbour story number {number}</title></head><body><article>"
            f"<h1>Harbour story number {number}</h1>{paragraphs}</article></body></html>"
        )
    return root


@pytest.fixture(scope="module")
def sections_site(tmp_path_factory) -> Iterator[SiteServer]:
    with SiteServer(build_site(tmp_path_factory.mktemp("dsite") / "site")) as server:
        yield server


def seed_urls(server: SiteServer) -> list[str]:
    return [f"{server.base_url}/section-{section}/index.html" for section in range(SECTIONS)]


# -- running workers -------------------------------------------------------------------------
def start_worker(redis_url: str, output: Path, *extra: str) -> subprocess.Popen:
    path = output.parent / f"worker-{time.monotonic_ns()}.log"
    with open(path, "w") as log:
        process = subprocess.Popen(
            [*NEWSARCHIVE, "crawl", "--redis", redis_url, "-o", str(output), *WORKER_OPTIONS,
             *extra],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    _logs[process.pid] = path
    return process


_logs: dict[int, Path] = {}


def worker_log(process: subprocess.Popen) -> str:
    return _logs[process.pid].read_text()


def run_round(redis_url: str, server: SiteServer, output: Path, *extra: str) -> list[int]:
    seeded = run_newsarchive("seed", "--redis", redis_url, *seed_urls(server))
    assert seeded.returncode == 0, seeded.stderr
    workers = [start_worker(redis_url, output, *extra) for _ in range(2)]
    codes = [worker.wait(timeout=150) for worker in workers]
    for worker, code in zip(workers, codes, strict=True):
        assert code == 0, worker_log(worker)
    return codes


def jsonl_by_run(output: Path) -> dict[str, list[dict]]:
    return {
        path.stem: [json.loads(line) for line in path.read_text().splitlines() if line]
        for path in sorted((output / "articles").glob("*.jsonl"))
    }


def survivor_runs(output: Path, survivor: subprocess.Popen) -> set[str]:
    log = worker_log(survivor)
    return {run for run in jsonl_by_run(output) if f"run {run} finished" in log}


def lines_written(output: Path) -> int:
    if not (output / "articles").is_dir():
        return 0
    return sum(len(lines) for lines in jsonl_by_run(output).values())


def warc_records(output: Path) -> list[tuple[str, dict, str]]:
    """(file name, WARC headers, HTTP status line or "") of every record, every WARC file."""
    records = []
    for path in sorted((output / "warc").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                headers = dict(record.rec_headers.headers)
                status = record.http_headers.get_statuscode() if record.http_headers else ""
                records.append((path.name, headers, status or ""))
    return records


def page_urls(server: SiteServer) -> set[str]:
    return set(seed_urls(server)) | {server.base_url + article_path(n) for n in all_articles()}


# -- tests -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_rounds(tmp_path_factory, sections_site, redis_base):
    """Round 1: a fresh crawl by two workers. Round 2: seeded again, `--revisit-after 0`, so
    every article is fetched again and judged against the shared state. Round 3: the default
    revisit policy, so no known article is due."""
    work = tmp_path_factory.mktemp("distributed")
    url = f"{redis_base}/15"
    redis.Redis.from_url(url).flushdb()
    output = work / "out"
    rounds = []
    for extra in (("--revisit-after", "0"), ("--revisit-after", "0"), ()):
        before = set(jsonl_by_run(output)) if output.exists() else set()
        run_round(url, sections_site, output, *extra)
        rounds.append({run: lines for run, lines in jsonl_by_run(output).items()
                       if run not in before})
    return {"output": output, "rounds": rounds, "redis": url}


def test_two_workers_archive_every_page_exactly_once(two_rounds, sections_site):
    output, first = two_rounds["output"], two_rounds["rounds"][0]
    assert len(first) == 2, "each worker is a run of its own, with its own JSONL file"
    lines = [line for run_lines in first.values() for line in run_lines]
    urls = Counter(line["url"] for line in lines)
    assert set(urls) == page_urls(sections_site)
    assert max(urls.values()) == 1, [u for u, n in urls.items() if n > 1]
    assert all(len(run_lines) > 0 for run_lines in first.values()), "both workers crawled"
    assert {line["change"] for line in lines} == {"new"}
    assert all(line["status"] == 200 and line["text"] for line in lines)
    first_runs = set(first)
    responses = Counter(
        headers["WARC-Target-URI"]
        for name, headers, _ in warc_records(output)
        if headers["WARC-Type"] == "response" and _run_of(output, name) in first_runs
    )
    for uri, count in responses.items():
        limit = 2 if uri.endswith("/robots.txt") else 1  # each worker reads robots.txt itself
        assert count <= limit, uri
    assert page_urls(sections_site) <= set(responses)


def _run_of(output: Path, file_name: str) -> str:
    return run_of(output / "warc" / file_name)


def test_worker_files_are_named_apart_and_the_manifest_hides_nothing_secret(two_rounds):
    output = two_rounds["output"]
    names = [path.name for path in (output / "warc").glob("*.warc.gz")]
    owners = {(name.rsplit("-", 2)[-2], name.rsplit("-", 1)[-1].split(".")[0]) for name in names}
    assert len(owners) >= 2, names  # host and pid in every name: one writer per file
    manifests = [json.loads(p.read_text()) for p in (output / "runs").glob("*.json")]
    assert len(manifests) == 6 and all(m["finish_reason"] == "finished" for m in manifests)
    assert {m["settings"]["NEWSARCHIVE_STATE"] for m in manifests} == {"redis"}
    assert not list(output.glob("*.open")) and not list((output / "index").glob(".pending-*"))


def test_merged_index_is_complete_and_sorted(two_rounds):
    output = two_rounds["output"]
    index = (output / "index" / "index.cdxj").read_text().splitlines()
    assert index == sorted(index)
    covered = {(json.loads(line.split(" ", 2)[2])["filename"],
                int(json.loads(line.split(" ", 2)[2])["offset"])) for line in index}
    expected = set()
    for path in sorted((output / "warc").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream)
            for record in records:
                profile = record.rec_headers.get_header("WARC-Profile") or ""
                indexed = record.rec_type in ("response", "revisit", "conversion", "metadata")
                if indexed and not profile.endswith("server-not-modified"):
                    expected.add((path.name, records.get_record_offset()))
    assert covered == expected
    # `newsarchive index` rebuilds the same index from every worker's WARC files
    rebuilt = run_newsarchive("index", "-o", str(output))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (output / "index" / "index.cdxj").read_text().splitlines() == index
    verified = run_newsarchive("verify", "-o", str(output))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_revisit_decisions_are_shared_by_all_workers(two_rounds, sections_site):
    output, second, third = two_rounds["output"], two_rounds["rounds"][1], two_rounds["rounds"][2]
    lines = [line for run_lines in second.values() for line in run_lines]
    assert Counter(line["url"] for line in lines) == Counter(page_urls(sections_site))
    assert {line["change"] for line in lines} == {"unchanged"}
    assert all(line["previous"] for line in lines)
    # second-round revisits refer to first-round responses, some written by the other worker
    by_id = {}
    for name, headers, _ in warc_records(output):
        by_id[headers["WARC-Record-ID"]] = (name, headers)
    crossed = 0
    for name, headers in by_id.values():
        if headers["WARC-Type"] != "revisit":
            continue
        original_file, original = by_id[headers["WARC-Refers-To"]]
        assert original["WARC-Type"] == "response"
        crossed += original_file.rsplit("-", 1)[-1] != name.rsplit("-", 1)[-1]
    assert crossed > 0, "no revisit referred to a response of another worker"
    # third round, default policy: only the seeds are fetched; no worker fetched an article
    third_lines = [line for run_lines in third.values() for line in run_lines]
    assert {line["url"] for line in third_lines} == set(seed_urls(sections_site))
    manifests = [json.loads((output / "runs" / f"{run}.json").read_text()) for run in third]
    assert sum(m["stats"]["not_due"] for m in manifests) >= len(all_articles())


def test_fingerprints_are_scoped_per_round_and_expire(two_rounds):
    server = redis.Redis.from_url(two_rounds["redis"])
    keys = sorted(key.decode() for key in server.keys("newsarchive:fingerprints:*"))
    assert keys == [f"newsarchive:fingerprints:{n}" for n in (1, 2, 3)]
    for key in keys:
        assert 0 < server.ttl(key) <= 86400  # NEWSARCHIVE_REDIS_FINGERPRINT_TTL
    assert server.zcard("newsarchive:requests") == 0 and server.llen("newsarchive:seeds") == 0


def test_killed_worker_loses_no_queued_url_and_repair_recovers_its_files(
    tmp_path, sections_site, redis_url
):
    output = tmp_path / "out"
    seeded = run_newsarchive("seed", "--redis", redis_url, *seed_urls(sections_site))
    assert seeded.returncode == 0, seeded.stderr
    victim = start_worker(redis_url, output, "-s", "DOWNLOAD_DELAY=0.2")
    deadline = time.monotonic() + 60
    while lines_written(output) < 6:
        assert time.monotonic() < deadline and victim.poll() is None, worker_log(victim)
        time.sleep(0.1)
    survivor = start_worker(redis_url, output)
    time.sleep(1.0)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert survivor.wait(timeout=120) == 0, worker_log(survivor)
    assert list((output / "warc").glob("*.open")), "the killed worker left its WARC open"
    refused = run_newsarchive("verify", "-o", str(output))
    assert refused.returncode != 0
    repaired = run_newsarchive("repair", "-o", str(output))
    assert repaired.returncode == 0, repaired.stderr
    verified = run_newsarchive("verify", "-o", str(output))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    server = redis.Redis.from_url(redis_url)
    assert server.zcard("newsarchive:requests") == 0, "queued requests were left behind"
    assert not server.keys("newsarchive:inflight:*"), "the dead worker's requests not reclaimed"
    assert "queued again" in worker_log(survivor)  # what the victim had in flight
    # every page has its JSONL line: queued ones and the victim's in-flight ones alike
    runs = jsonl_by_run(output)
    urls = Counter(line["url"] for lines in runs.values() for line in lines)
    assert set(urls) == page_urls(sections_site)
    # a page twice only if the victim wrote its line and died before noting it done
    victim_urls = {line["url"] for run, lines in runs.items() for line in lines
                   if run not in survivor_runs(output, survivor)}
    assert {url for url, count in urls.items() if count > 1} <= victim_urls


def test_stopped_worker_finishes_what_it_took_and_leaves_the_rest_queued(
    tmp_path, sections_site, redis_url
):
    output = tmp_path / "out"
    seeded = run_newsarchive("seed", "--redis", redis_url, *seed_urls(sections_site))
    assert seeded.returncode == 0, seeded.stderr
    stopped = start_worker(redis_url, output, "-s", "DOWNLOAD_DELAY=0.3")
    deadline = time.monotonic() + 60
    while lines_written(output) < 4:
        assert time.monotonic() < deadline and stopped.poll() is None, worker_log(stopped)
        time.sleep(0.1)
    stopped.send_signal(signal.SIGTERM)
    assert stopped.wait(timeout=60) == 4, worker_log(stopped)  # EXIT_INTERRUPTED
    server = redis.Redis.from_url(redis_url)
    assert server.zcard("newsarchive:requests") > 0, "the rest of the frontier stays queued"
    assert not server.keys("newsarchive:inflight:*") and not server.smembers("newsarchive:workers")
    finisher = start_worker(redis_url, output)
    assert finisher.wait(timeout=120) == 0, worker_log(finisher)
    urls = Counter(line["url"] for lines in jsonl_by_run(output).values() for line in lines)
    assert set(urls) == page_urls(sections_site) and max(urls.values()) == 1
    verified = run_newsarchive("verify", "-o", str(output))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_worker_lock_is_shared_by_workers_and_exclusive_against_embedded_runs(
    tmp_path, redis_url, sections_site
):
    output = tmp_path / "out"
    prefix = ("-s", "NEWSARCHIVE_REDIS_PREFIX=other-archive")  # and keys of its own
    worker = start_worker(redis_url, output, *prefix, "-s", "NEWSARCHIVE_REDIS_IDLE_CLOSE=8")
    try:
        deadline = time.monotonic() + 30
        while not (output / "runs").is_dir() or not list((output / "runs").glob("*.json")):
            assert time.monotonic() < deadline, worker_log(worker)
            time.sleep(0.1)
        # a worker waiting for seeds has its pending index and no WARC yet: not a killed run
        verified = run_newsarchive("verify", "-o", str(output))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "distributed workers" in verified.stdout + verified.stderr
        seeded = run_newsarchive("seed", "--redis", redis_url, *prefix,
                                 *seed_urls(sections_site)[:1])
        assert seeded.returncode == 0 and "other-archive:seeds" in seeded.stderr
        embedded = run_newsarchive("crawl", seed_urls(sections_site)[0], "-o", str(output))
        assert embedded.returncode == 1 and "distributed workers" in embedded.stderr
        repair = run_newsarchive("repair", "-o", str(output))
        assert repair.returncode == 1
    finally:
        assert worker.wait(timeout=60) == 0, worker_log(worker)
    server = redis.Redis.from_url(redis_url)
    assert not server.keys("newsarchive:*")
    assert server.hlen("other-archive:state:fetches") > 0
    assert run_newsarchive("verify", "-o", str(output)).returncode == 0


def _merge_many(index_dir: str, worker: int) -> None:
    from newsarchive.store.cdxj import merge_into_index

    for batch in range(25):
        merge_into_index(Path(index_dir), [
            f"com,example)/{worker}/{batch}/{n} 20240101000000 {{}}" for n in range(20)
        ])


def test_concurrent_index_merges_lose_no_line(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("fork")  # the children only write files
    merges = [context.Process(target=_merge_many, args=(str(tmp_path), w)) for w in range(3)]
    for process in merges:
        process.start()
    for process in merges:
        process.join(60)
        assert process.exitcode == 0
    lines = (tmp_path / "index.cdxj").read_text().splitlines()
    assert len(lines) == 3 * 25 * 20 and lines == sorted(lines)


def test_a_worker_given_seeds_pushes_them_and_crawls(tmp_path, sections_site, redis_url):
    output = tmp_path / "out"
    section = seed_urls(sections_site)[0]
    crawled = run_newsarchive("crawl", "--redis", redis_url, "-o", str(output), section,
                              *WORKER_OPTIONS)
    assert crawled.returncode == 0, crawled.stderr
    urls = {line["url"] for lines in jsonl_by_run(output).values() for line in lines}
    assert urls == {section} | {sections_site.base_url + article_path(n)
                                for n in section_articles(0)}
    assert redis.Redis.from_url(redis_url).get("newsarchive:round") == b"1"


def test_scrapy_patches_switched_off_crawl_the_same(tmp_path, sections_site, redis_url):
    """NEWSARCHIVE_REDIS_ENGINE_POLL and _INFLIGHT_LEDGER (newsarchive.compat.scrapy) off: the
    worker archives the same pages, and leaves nothing noted in flight (one crawl with both
    off: each is switched alone in tests/test_compat.py)."""
    output, section = tmp_path / "out", seed_urls(sections_site)[0]
    crawled = run_newsarchive("crawl", "--redis", redis_url, "-o", str(output), section,
                              *WORKER_OPTIONS, "-s", "NEWSARCHIVE_REDIS_ENGINE_POLL=0",
                              "-s", "NEWSARCHIVE_REDIS_INFLIGHT_LEDGER=0")  # fmt: skip
    assert crawled.returncode == 0, crawled.stderr
    urls = {line["url"] for lines in jsonl_by_run(output).values() for line in lines}
    assert urls == {section} | {sections_site.base_url + article_path(n)
                                for n in section_articles(0)}  # fmt: skip
    assert not redis.Redis.from_url(redis_url).keys("newsarchive:inflight:*")


def test_workers_writing_locally_then_gathered_into_one_archive(
    tmp_path, sections_site, redis_url
):
    seeded = run_newsarchive("seed", "--redis", redis_url, *seed_urls(sections_site))
    assert seeded.returncode == 0, seeded.stderr
    local = [tmp_path / f"machine-{n}" / "archive" for n in (1, 2)]
    for output in local:
        output.parent.mkdir()
    workers = [start_worker(redis_url, output) for output in local]
    for worker in workers:
        assert worker.wait(timeout=150) == 0, worker_log(worker)
    gathered = tmp_path / "gathered"
    for output in local:  # e.g. rsync -a --ignore-existing: no name is in both
        for folder in ("warc", "articles", "runs"):
            (gathered / folder).mkdir(parents=True, exist_ok=True)
            for path in (output / folder).iterdir():
                assert not (gathered / folder / path.name).exists()
                shutil.copy2(path, gathered / folder / path.name)
    indexed = run_newsarchive("index", "-o", str(gathered))
    assert indexed.returncode == 0, indexed.stderr
    local_lines = sorted(
        line for output in local
        for line in (output / "index" / "index.cdxj").read_text().splitlines()
    )
    assert (gathered / "index" / "index.cdxj").read_text().splitlines() == local_lines
    urls = Counter(line["url"] for lines in jsonl_by_run(gathered).values() for line in lines)
    assert set(urls) == page_urls(sections_site) and max(urls.values()) == 1
    verified = run_newsarchive("verify", "-o", str(gathered))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_redis_passwords_stay_out_of_records():
    from newsarchive.base.urls import redact_url

    assert redact_url("redis://:s3cret@db.internal:6380/2") == "redis://:***@db.internal:6380/2"
    assert redact_url("redis://app:s3cret@db/0") == "redis://app:***@db/0"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_seed_and_worker_report_an_unreachable_redis(tmp_path):
    url = f"redis://127.0.0.1:{_free_port()}/0"
    seeded = run_newsarchive("seed", "--redis", url, "http://127.0.0.1:9/")
    assert seeded.returncode == 1 and "Redis at" in seeded.stderr
    crawled = run_newsarchive("crawl", "--redis", url, "-o", str(tmp_path / "out"))
    assert crawled.returncode == 1 and "Redis at" in crawled.stderr

