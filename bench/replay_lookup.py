"""Replay latency on a synthetic archive: ``python -m bench.replay_lookup [--records N]``.

Builds an archive of N response records (default 100,000) with the project's own WARC writer
and CDXJ indexer, one JSONL line per record, then measures:

- index lookup alone (binary search in the memory-mapped CDXJ),
- lookup + opening the record by offset + reading its payload,
- over HTTP against a running ``newsarchive replay``: the article page of a capture (catalogue
  query, timeline, index lookup, template) and the raw replay of a page (lookup, WARC read,
  rewriting), and the browsing pages (home, a run's captures, sites, a site's articles, edits,
  the edits feed, search grouped by article).

Two later runs re-capture a quarter and an eighth of the pages (JSONL lines only: the catalogue
is built from the JSONL), a fifth of them with edited text, so that articles have several
captures and the edits pages have edits to list.

Reports median, 95th percentile and maximum in milliseconds. The archive is kept in
``--dir`` (default a temporary directory) so repeated runs can skip the build.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from newsarchive.capture.warc_writer import WarcFileWriter, warc_date
from newsarchive.replay.lookup import ArchiveReader
from newsarchive.store.cdxj import cdxj_line, merge_into_index

RUN_ID = "20240101T000000Z-beef"
RECAPTURES = (("20240201T000000Z-beef", 4), ("20240301T000000Z-beef", 8))  # run, every nth page
START = datetime(2024, 1, 1, tzinfo=UTC)
WORDS = ("harbour council ferry budget breakwater vote storm museum festival market tide "
         "lifeboat quay dredging berth fishermen commission report island bus").split()


def page_url(number: int) -> str:
    return f"http://news{number % 97}.test/2024/{number % 12 + 1:02d}/story-{number}.html"


def build(root: Path, records: int) -> None:
    random.seed(1)
    warc = WarcFileWriter(root / "warc", {"software": "bench"}, max_size=200_000_000)
    (root / "articles").mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    started = time.monotonic()
    with open(root / "articles" / f"{RUN_ID}.jsonl", "w", encoding="utf-8") as jsonl:
        for number in range(records):
            url = page_url(number)
            text = " ".join(random.choices(WORDS, k=120))
            body = (f"<!DOCTYPE html><html><head><title>Story {number}</title>"
                    f'<link rel="stylesheet" href="/s.css"></head><body><h1>Story {number}</h1>'
                    f'<img src="/i/{number}.png"><p>{text}</p></body></html>').encode()
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            when = warc_date(START + timedelta(seconds=number))
            record = warc.make_record("response", url, body, http_head=head, date=when,
                                      content_type="application/http; msgtype=response")
            written = warc.write_record(record)
            line = cdxj_line(written)
            assert line is not None
            lines.append(line)
            jsonl.write(json.dumps({
                "schema": 1, "run_id": RUN_ID, "url": url, "final_url": url, "status": 200,
                "fetched_at": when[:19] + "Z", "title": f"Story {number}", "text": text,
                "warc": {"response": written.pointer.as_dict(), "text": None},
            }) + "\n")
            if number and number % 20000 == 0:
                print(f"  {number} records written ({time.monotonic() - started:.0f}s)",
                      file=sys.stderr)
    warc.close()
    merge_into_index(root / "index", lines)
    print(f"built {records} records in {time.monotonic() - started:.1f}s", file=sys.stderr)


def build_recaptures(root: Path) -> int:
    """Later runs' JSONL lines for every nth page of the first run: a fifth of them edited
    (``changed``, a few words replaced), the others ``unchanged``. Returns lines written."""
    rng = random.Random(3)
    written = 0
    texts: dict[str, tuple[str, str, str]] = {}  # url -> (run, fetched_at, text) of the last
    for run_number, (run_id, every) in enumerate(RECAPTURES, start=1):
        target = root / "articles" / f"{run_id}.jsonl"
        with (open(root / "articles" / f"{RUN_ID}.jsonl", encoding="utf-8") as first,
              open(target, "w", encoding="utf-8") as out):
            for number, raw in enumerate(first):
                if number % every:
                    continue
                line = json.loads(raw)
                url = line["url"]
                before_run, before_at, text = texts.get(url, (RUN_ID, line["fetched_at"],
                                                              line["text"]))
                when = (START + timedelta(days=31 * run_number, seconds=number)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
                edited = rng.random() < 0.2
                if edited:
                    words = text.split()
                    for _ in range(3):
                        words[rng.randrange(len(words))] = rng.choice(WORDS).upper()
                    text = " ".join(words)
                    texts[url] = (run_id, when, text)
                out.write(json.dumps({
                    **line, "run_id": run_id, "fetched_at": when, "text": text,
                    "page_type": "article", "change": "changed" if edited else "unchanged",
                    "previous": {"run_id": before_run, "fetched_at": before_at},
                    **({"diff": {"added": 1, "removed": 1}} if edited else {}),
                }) + "\n")
                written += 1
    return written


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return (f"{name:<44} median {statistics.median(ordered):7.2f} ms   p95 {p95:7.2f} ms   "
            f"max {ordered[-1]:7.2f} ms   (n={len(ordered)})")


def in_process(root: Path, records: int, repeat: int) -> list[str]:
    archive = ArchiveReader(root)
    urls = [page_url(random.randrange(records)) for _ in range(repeat)]
    archive.captures(urls[0])  # maps the index
    pending = iter(urls)
    lookups = timed(lambda: archive.captures(next(pending)), repeat)

    def lookup_and_read() -> None:
        capture = archive.nearest(page_url(random.randrange(records)), "2024")
        resolved = archive.resolve(capture)
        try:
            resolved.body.payload()
        finally:
            resolved.close()

    return [report("CDXJ lookup (binary search)", lookups),
            report("lookup + WARC record read by offset", timed(lookup_and_read, repeat))]


def _fetch(url: str) -> bytes:
    """GET through 127.0.0.1 with the URL's Host (the replay host may not resolve here)."""
    parts = urlsplit(url)
    target = url[len(f"{parts.scheme}://{parts.netloc}"):]
    request = urllib.request.Request(
        f"http://127.0.0.1:{parts.port}{target}", headers={"Host": parts.netloc}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def over_http(root: Path, records: int, repeat: int) -> list[str]:
    env = {**os.environ, "NEWSARCHIVE_REPLAY_CACHE": str(root / "cache")}
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "newsarchive.cli", "replay", "-o", str(root), "--port", "0"],
        stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert server.stderr is not None
        banner = server.stderr.readline()
        while banner and "Archive at" not in banner:  # "building the search catalogue" first
            banner = server.stderr.readline()
        origins = re.findall(r"(http://[^/\s]+:\d+)/", banner)  # the app's, the replay host's
        if len(origins) < 2:
            raise RuntimeError(f"replay did not start: {banner}")
        app, replay = origins[:2]
        ready = time.monotonic() - started
        fetch = _fetch
        fetch(f"{app}/capture/{RUN_ID}/1")

        def article() -> None:
            fetch(f"{app}/capture/{RUN_ID}/{random.randrange(records) + 1}")

        def raw_page() -> None:
            fetch(f"{replay}/web/2024if_/{page_url(random.randrange(records))}")

        def search() -> None:
            fetch(f"{app}/?q={'+'.join(random.sample(WORDS, 2))}")

        site, second_run = "news7.test", RECAPTURES[0][0]
        browsing = [
            ("home page (runs; counts cached until new lines arrive)", lambda: fetch(f"{app}/")),
            ("run page 1 (50 captures)", lambda: fetch(f"{app}/run/{RUN_ID}")),
            ("run page, random page of 2000", lambda: fetch(
                f"{app}/run/{RUN_ID}?page={random.randrange(2000) + 1}")),
            ("run page, changed only, random page of 50", lambda: fetch(
                f"{app}/run/{second_run}?change=changed&page={random.randrange(50) + 1}")),
            ("sites page (97 sites, 50 a page)", lambda: fetch(f"{app}/sites")),
            ("site page 1 (50 articles)", lambda: fetch(f"{app}/site/{site}")),
            ("site page, random page of 21", lambda: fetch(
                f"{app}/site/{site}?page={random.randrange(21) + 1}")),
            ("edits page 1 (20 edits with their diffs)", lambda: fetch(f"{app}/edits")),
            ("edits page, random page of the first 250", lambda: fetch(
                f"{app}/edits?page={random.randrange(250) + 1}")),
            ("edits of one site", lambda: fetch(f"{app}/edits?site={site}")),
            ("edits Atom feed (50 entries with diffs)", lambda: fetch(f"{app}/edits.atom")),
        ]

        return [
            f"server start, catalogue built from the JSONL: {ready:.1f}s (cached afterwards)",
            report("HTTP: article page /capture/...", timed(article, repeat)),
            report("HTTP: raw replay /web/... (rewritten)", timed(raw_page, repeat)),
            report("HTTP: full-text search, 20 articles (grouped)",
                   timed(search, max(repeat // 10, 5))),
            report("HTTP: search by URL substring", timed(
                lambda: fetch(f"{app}/?url=story-{random.randrange(records)}"), repeat)),
            report("HTTP: search by URL, one site (20 of 1031 articles)", timed(
                lambda: fetch(f"{app}/?url=news{random.randrange(97)}.test"), repeat)),
            *(report(f"HTTP: {name}", timed(page, max(repeat // 3, 5)))
              for name, page in browsing),
        ]
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_lookup")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--dir", type=Path, help="keep the synthetic archive here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp)
        if not (root / "index" / "index.cdxj").exists():
            build(root, args.records)
        if not (root / "articles" / f"{RECAPTURES[-1][0]}.jsonl").exists():
            print(f"later runs: {build_recaptures(root)} JSONL lines", file=sys.stderr)
        random.seed(2)
        captures = sum(1 for path in (root / "articles").glob("*.jsonl") for _ in open(path))
        lines = [f"archive: {args.records} response records, {captures} JSONL captures, "
                 f"{sum(1 for _ in open(root / 'index' / 'index.cdxj'))} index lines, "
                 f"{sum(p.stat().st_size for p in (root / 'warc').glob('*')) / 1e6:.0f} MB WARC"]
        lines += in_process(root, args.records, args.repeat)
        lines += over_http(root, args.records, args.repeat)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
