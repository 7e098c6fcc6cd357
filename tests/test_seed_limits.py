"""Seeds and limits that mean what they say (issue 14), each against a real local server:
--max-pages bounds the seeds, invalid seeds make a partial run, option values are checked,
related titles match across hyphens, seed passwords are kept nowhere, a wrongly declared
charset falls back to detection, and a first run's summary counts only what happened."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from newsarchive.cli import main
from newsarchive.crawl.seeds import SEED_FORMS
from newsarchive.demo.server import SiteServer
from tests.conftest import ROOT, run_newsarchive, write_seed_document

ARTICLE = "/2024/05/01/harbour-expansion-approved-a10001.html"
PASSWORDS = ("hunter2pw", "topsecretpw")


# --- option values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--depth", "-1", "argument --depth: must be 0 or more, not -1"),
        ("--max-pages", "0", "argument --max-pages: must be 1 or more, not 0"),
        ("--max-pages", "-5", "argument --max-pages: must be 1 or more, not -5"),
        ("--concurrency", "0", "argument --concurrency: must be 1 or more, not 0"),
        ("--depth", "one", "argument --depth: 'one' is not a whole number"),
    ],
)
def test_bad_option_values_are_usage_errors(option, value, message, tmp_path, capsys):
    code = main(["crawl", "http://127.0.0.1:9/", option, value, "-o", str(tmp_path / "out")])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was done


# --- --max-pages -----------------------------------------------------------------------------


def test_max_pages_bounds_the_seeds(site, tmp_path):
    """2,000 seed URLs and --max-pages 5: five pages (JSONL lines) fetched, not 2,000.

    Pages are what the JSONL has a line for: seeds, feed and sitemap entries, followed links;
    robots.txt and page requisites are not pages."""
    seeds = tmp_path / "many.txt"
    seeds.write_text("".join(f"{site.base_url}{ARTICLE}?n={n}\n" for n in range(2000)))
    site.clear()
    started = time.monotonic()
    run = run_newsarchive("crawl", str(seeds), "--max-pages", "5", "-o", str(tmp_path / "out"))
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr  # the limit was asked for: nothing failed
    assert len(run.jsonl_lines()) == 5
    assert sum(1 for path in site.paths if path.startswith(ARTICLE)) == 5
    stats = run.manifests()[0]["stats"]
    assert (stats["seeds_archived"], stats["seeds_total"], stats["seeds_not_fetched"]) == (
        5, 2000, 1995
    )
    assert "seeds:      5/2000 archived, 1995 not fetched (--max-pages)" in run.stderr
    assert elapsed < 60  # before: every seed fetched (2,000 pages, 12 s on 2 cores)


# --- invalid seeds, passwords, --depth 0 -----------------------------------------------------


@pytest.fixture(scope="module")
def invalid_seeds_run(site, tmp_path_factory):
    work = tmp_path_factory.mktemp("invalid")
    urls = work / "urls.txt"
    urls.write_text(
        f"{site.base_url}{ARTICLE}\n"  # 1
        "htp://example.com/2024/05/01/x\n"  # 2
        "127.0.0.1:8765/rss.xml\n"  # 3
        "https://bob:hunter2pw@example.com/2024/05/01/secret\n"  # 4
    )
    document = write_seed_document(site, work)
    run = run_newsarchive(
        "crawl", str(urls), str(document), "https://al:topsecretpw@example.com/x",
        "127.0.0.1:8765/rss.xml", "--depth", "0", "-o", str(work / "out"),
        env={"NEWSARCHIVE_REPLAY_CACHE": str(work / "out" / "cache")},
    )
    return run, urls, document


def test_invalid_seeds_make_the_run_partial_and_are_listed(invalid_seeds_run):
    run, urls, _ = invalid_seeds_run
    assert run.returncode == 3, run.stderr
    summary = run.stderr[run.stderr.index("newsarchive run "):]
    assert "archived, 5 invalid (not crawled)" in summary
    for line in (
        f"seed invalid: {urls}:2: 'htp://example.com/2024/05/01/x': unsupported scheme 'htp'",
        f"seed invalid: {urls}:3: '127.0.0.1:8765/rss.xml': not a URL (a URL needs http://",
        f"seed invalid: {urls}:4: 'https://bob:***@example.com/2024/05/01/secret': "
        "contains credentials",
        "seed invalid: argv: 'https://al:***@example.com/x': contains credentials",
        "seed invalid: argv: '127.0.0.1:8765/rss.xml': not a URL (a URL needs http://",
    ):
        assert line in summary
    assert f"({SEED_FORMS})" in summary  # what a seed must look like, after the list
    stats = run.manifests()[0]["stats"]
    assert len(stats["seeds_invalid"]) == 5
    assert stats["seeds_failed"] == []
    assert not any(error.endswith(invalid) for error in stats["errors"]
                   for invalid in stats["seeds_invalid"])  # listed once, as invalid


def test_related_lines_with_depth_0_are_said_not_to_be_followed(invalid_seeds_run):
    run, _, document = invalid_seeds_run
    note = f"4 'Related article:' lines in {document} will not be followed: --depth 0"
    assert note in run.stderr
    assert f"seed input: {note}" in run.manifests()[0]["stats"]["errors"]


def test_seed_passwords_appear_nowhere(invalid_seeds_run):
    run, _, _ = invalid_seeds_run
    for password in PASSWORDS:
        assert password not in run.stdout and password not in run.stderr
    for path in run.output.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                data = gzip.decompress(data)
            assert not any(p.encode() in data for p in PASSWORDS), path
    settings = run.manifests()[0]["settings"]["NEWSARCHIVE_SEEDS"]
    assert "https://al:***@example.com/x" in settings
    home = _replay_home_page(run.output)
    assert "5 invalid" in home and "bob:***@example.com" in home  # listed, redacted
    assert not any(password in home for password in PASSWORDS)


def _replay_home_page(output: Path) -> str:
    """The replay app's home page, from `newsarchive replay` serving the archive."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "NEWSARCHIVE_REPLAY_CACHE": str(output.parent / "replay-cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "newsarchive.cli", "replay", "-o", str(output),
         "--port", str(port), "--replay-port", str(port + 1)],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                    return page.read().decode()
            except OSError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "replay server did not start"
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- related titles across hyphens; a charset declared wrongly -------------------------------

FRONT = "/2024/06/01/harbour-front-a20001.html"
PLAN = "/2024/06/02/harbour-plan-a20002.html"
FARES = "/2024/06/03/ferry-fares-a20003.html"
ASCII_AS_UTF16 = "/2024/06/05/council-minutes-a20005.html"
ASCII_SENTENCE = "The council minutes were published in plain ASCII on Tuesday afternoon."


def _page(title: str, body: str) -> str:
    paragraphs = "".join(
        f"<p>{body} Paragraph {n} goes on about the harbour, the ferries and the council "
        "budget so that the extractor has a real article body to keep.</p>"
        for n in range(4)
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
        f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>\n"
    )


@pytest.fixture(scope="module")
def small_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("small-site")
    pages = {
        FRONT: _page("Harbour front", "The front page story.").replace(
            "</article>",
            f'</article><ul><li><a href="{PLAN}">Three-year harbour plan unveiled</a></li>'
            f'<li><a href="{FARES}">Ferry\u2013fare freeze extended</a></li></ul>',
        ),
        PLAN: _page("Three-year harbour plan unveiled", "The plan."),
        FARES: _page("Ferry fare freeze extended", "The fares."),
        ASCII_AS_UTF16: _page("Council minutes", ASCII_SENTENCE).replace(
            '<meta charset="utf-8">', ""
        ),
    }
    for path, html in pages.items():
        (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (root / path.lstrip("/")).write_text(html, encoding="ascii", errors="xmlcharrefreplace")
    (root / "_site.json").write_text(
        json.dumps({ASCII_AS_UTF16: {"content_type": "text/html; charset=utf-16"}})
    )
    with SiteServer(root) as server:
        yield server


@pytest.fixture(scope="module")
def small_site_run(small_site, tmp_path_factory):
    work = tmp_path_factory.mktemp("small-run")
    document = work / "seed.txt"
    document.write_text(
        "Harbour front\n\n"
        "Related article: THREE YEAR HARBOUR PLAN UNVEILED\n"
        "Related article: Ferry fare freeze extended\n\n"
        f"Original url:\n{small_site.base_url}{FRONT}\n"
    )
    return run_newsarchive(
        "crawl", str(document), f"{small_site.base_url}{ASCII_AS_UTF16}", "-o", str(work / "out")
    )


def test_related_titles_match_across_hyphens_and_dashes(small_site_run):
    run = small_site_run
    assert run.returncode == 0, run.stderr
    vias = {urlsplit(line["url"]).path: line["via"] for line in run.jsonl_lines()}
    assert vias[PLAN] == "related-title"  # "Three-year" for "THREE YEAR"
    assert vias[FARES] == "related-title"  # an en dash for a space
    assert run.manifests()[0]["stats"]["unmatched_related_titles"] == []


def test_ascii_served_as_utf16_is_decoded_by_detection(small_site_run):
    run = small_site_run
    line = next(x for x in run.jsonl_lines() if x["url"].endswith(ASCII_AS_UTF16))
    assert line["status"] == 200
    assert ASCII_SENTENCE in line["text"]


# --- the first run's summary -----------------------------------------------------------------


def test_first_run_summary_counts_what_happened(site, tmp_path):
    """A fresh archive seeded with the feed and robots.txt: no known article exists yet, and
    the one revisit record (robots.txt, fetched for robots rules and again as a seed) says so."""
    output = str(tmp_path / "out")
    seeds = (f"{site.base_url}/feed.xml", f"{site.base_url}/robots.txt")
    first = run_newsarchive("crawl", *seeds, "-o", output)
    assert first.returncode == 0, first.stderr
    stats = first.manifests()[0]["stats"]
    assert stats["not_due"] == 0
    assert "; 0 known articles not due" in first.stderr
    revisits = sum(stats["revisits_by_profile"].values())
    assert stats["revisits_in_run"] == revisits == 1
    assert "; 1 revisit record (of content this run had fetched already);" in first.stderr
    articles = {x["url"] for x in first.jsonl_lines() if x["via"] in ("feed", "sitemap")}
    second = run_newsarchive("crawl", *seeds, "-o", output)
    assert second.returncode == 0, second.stderr
    latest = max(second.manifests(), key=lambda m: m["started"])
    assert latest["stats"]["not_due"] == len(articles) == 8  # each once, listed twice or not
