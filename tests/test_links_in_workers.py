"""Links and requisites found in the extraction workers (one parse per page, in the tree
trafilatura also uses) are those the crawl process finds when it parses the page itself."""

from __future__ import annotations

import asyncio
import functools
import tempfile
from pathlib import Path

import pytest
import scrapy
from scrapy.http import HtmlResponse

from newsarchive.crawl.seeds import load_seeds
from newsarchive.crawl.spidermiddlewares.requisites import requisite_urls
from newsarchive.extract.analysis import PageJob, analyse_page
from newsarchive.extract.links import discover_links
from tests.conftest import SITE, run_newsarchive, write_seed_document

BASE = "http://127.0.0.1:8080"
PAGES = sorted(p for p in SITE.rglob("*.html") if "private" not in p.parts)
ALLOWED = ("127.0.0.1",)


def _url(path: Path) -> str:
    relative = path.relative_to(SITE).as_posix()
    return f"{BASE}/" if relative == "index.html" else f"{BASE}/{relative}"


@functools.cache
def _titles() -> tuple[str, ...]:
    """The related titles of the fixture seed document, as the seed loader reads them."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "seed.txt"
        path.write_text((SITE / "seed.txt").read_text().replace("{base}", BASE))
        seeds, _ = load_seeds([str(path)])
    return tuple(title for seed in seeds for title in seed.related_titles)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.relative_to(SITE).as_posix())
def test_worker_finds_what_the_reactor_finds(path: Path):
    body, url, titles = path.read_bytes(), _url(path), _titles()
    assert titles  # the seed document names related articles: their anchors are matched too
    response = HtmlResponse(url, body=body, headers={"Content-Type": "text/html"})
    reactor = discover_links(response, titles, ALLOWED)
    job = PageJob(body, url, "text/html", extract=False, links=True, related_titles=titles,
                  allowed_domains=ALLOWED, requisites=True)
    worker = analyse_page(job)
    assert worker.extraction is None  # not asked for
    assert worker.links == [(link.url, link.via) for link in reactor.links]
    assert worker.unmatched_titles == reactor.unmatched_titles
    assert worker.requisites == requisite_urls(response)


def test_fixture_pages_have_links_to_compare():
    found = [analyse_page(PageJob(p.read_bytes(), _url(p), "text/html", extract=False,
                                  links=True, allowed_domains=ALLOWED)) for p in PAGES]
    assert sum(len(a.links or []) for a in found) >= 10
    assert any(via == "related-title" for a in [
        analyse_page(PageJob(p.read_bytes(), _url(p), "text/html", extract=False, links=True,
                             related_titles=_titles(), allowed_domains=ALLOWED)) for p in PAGES
    ] for _, via in a.links or [])


def test_crawl_archives_the_same_pages_either_way(site, tmp_path):
    seed = write_seed_document(site, tmp_path)
    runs = {
        in_workers: run_newsarchive(
            "crawl", str(seed), "-o", str(tmp_path / f"out-{in_workers}"),
            "-s", f"NEWSARCHIVE_LINKS_IN_WORKERS={in_workers}",
        )
        for in_workers in (True, False)
    }
    for run in runs.values():
        assert run.returncode == 0, run.stderr
    lines = {key: run.jsonl_lines() for key, run in runs.items()}
    assert sorted((x["url"], x["via"], x["text_digest"]) for x in lines[True]) == sorted(
        (x["url"], x["via"], x["text_digest"]) for x in lines[False]
    )
    captured = {
        key: sorted(p.read_text().count("\n") for p in (run.output / "index").glob("*.cdxj"))
        for key, run in runs.items()
    }
    assert captured[True] == captured[False]  # requisites too


def _crawler(tmp_path: Path, **settings: object):
    from scrapy.settings import Settings
    from scrapy.utils.test import get_crawler

    from spiders.articles import ArticlesSpider

    base = Settings()
    base.setmodule("newsarchive.settings")
    base.update({"NEWSARCHIVE_OUTPUT_DIR": str(tmp_path), "NEWSARCHIVE_DEPTH": 5,
                 "TWISTED_REACTOR_ENABLED": False, **settings})  # the callback alone, no crawl
    return get_crawler(ArticlesSpider, base.copy_to_dict())


async def _follow_links(
    tmp_path: Path, page: Path, ready: bool, timeout: float = 30.0
) -> tuple[list, dict, dict]:
    from newsarchive.base.meta import CAPTURE_META_KEY
    from newsarchive.extract.workers import ExtractionPool
    from newsarchive.store.archive import Archive
    from spiders.articles import ArticlesSpider

    crawler = _crawler(tmp_path / f"{ready}-{timeout}")
    spider = ArticlesSpider.from_crawler(crawler, seeds=_url(page))
    archive = Archive.of(crawler)
    with ExtractionPool(workers=1, timeout=timeout) as pool:
        archive.workers = pool
        while ready and not pool.ready:
            await asyncio.sleep(0.05)
        request = scrapy.Request(_url(page), meta={CAPTURE_META_KEY: {}})
        response = HtmlResponse(_url(page), body=page.read_bytes(), request=request,
                                headers={"Content-Type": "text/html; charset=utf-8"})
        outputs = [output async for output in spider.parse_page(response)]
    items = [output for output in outputs if not isinstance(output, scrapy.Request)]
    requests = [(r.url, r.meta["newsarchive_via"])
                for r in outputs if isinstance(r, scrapy.Request)]
    return requests, items[0].extraction, crawler.stats.get_stats()


def test_spider_follows_what_the_workers_found(tmp_path):
    page = SITE / "index.html"
    by_workers, extraction, stats = asyncio.run(_follow_links(tmp_path, page, ready=True))
    assert stats.get("newsarchive/pages_linked_by_workers") == 1
    assert "newsarchive/pages_linked_by_crawler" not in stats
    # before the workers are up, the crawl finds the links itself and does not wait for them
    by_crawler, early_extraction, early = asyncio.run(_follow_links(tmp_path, page, ready=False))
    assert early.get("newsarchive/pages_linked_by_crawler") == 1
    assert by_workers and sorted(by_workers) == sorted(by_crawler)
    assert extraction["text"] and extraction == early_extraction  # extracted either way


def test_links_found_here_when_the_worker_fails_on_a_page(tmp_path):
    page = SITE / "index.html"
    expected, _, _ = asyncio.run(_follow_links(tmp_path, page, ready=False))
    found, extraction, stats = asyncio.run(_follow_links(tmp_path, page, True, timeout=1e-6))
    assert extraction["extraction_error"].startswith("timed out")
    assert stats.get("newsarchive/pages_linked_by_crawler") == 1
    assert found and sorted(found) == sorted(expected)
