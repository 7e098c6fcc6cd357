"""Fail loudly: a crawl that cannot extract stops before it fetches anything (exit 1), and a run
in which most extractions fail with the same error ends partial (exit 3), through the real CLI.

The broken install is real: a ``lxml_html_clean`` that cannot be imported makes
``lxml.html.clean``, and so jusText and trafilatura, fail to import, as on a plain install of
lxml >= 5.2 by a pip that ignores jusText's ``lxml[html_clean]`` extra.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from newsarchive.demo.server import SiteServer
from tests.conftest import run_newsarchive, write_seed_document

# A page whose article a script renders in the browser: trafilatura finds no main text in it.
SHELL = (
    "<!DOCTYPE html><html><head><title>{name}</title><script src='/app.js'></script></head>"
    "<body><div id='app'></div></body></html>"
)
ARTICLE = (
    "<!DOCTYPE html><html><head><title>{name}</title></head><body><article><h1>{name}</h1>"
    + "<p>The harbour commission met again on Tuesday to discuss the {name} plan in detail.</p>"
    * 6
    + "</article></body></html>"
)


@pytest.fixture
def broken_install(tmp_path: Path) -> dict[str, str]:
    """The environment of a crawl whose extraction cannot import its dependencies."""
    shim = tmp_path / "shim" / "lxml_html_clean"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('lxml_html_clean is not installed')\n")
    paths = [str(shim.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {"PYTHONPATH": os.pathsep.join(paths)}


@pytest.fixture(scope="module")
def shells(tmp_path_factory: pytest.TempPathFactory):
    """A site of three script-rendered pages and two articles."""
    root = tmp_path_factory.mktemp("shells")
    for name in ("one", "two", "three"):
        (root / f"{name}.html").write_text(SHELL.format(name=name))
    for name in ("breakwater", "ferry"):
        (root / f"{name}.html").write_text(ARTICLE.format(name=name))
    (root / "app.js").write_text("document.getElementById('app').textContent = 'Article';\n")
    with SiteServer(root) as server:
        yield server


def test_crawl_that_cannot_extract_fetches_nothing(site, broken_install, tmp_path):
    site.clear()
    seeds = write_seed_document(site, tmp_path)
    run = run_newsarchive("crawl", str(seeds), "-o", str(tmp_path / "out"), env=broken_install)
    assert run.returncode == 1, run.stderr
    assert "newsarchive crawl: extraction unavailable: ImportError: " in run.stderr
    assert "--no-extract to archive without text" in run.stderr
    assert site.paths == []  # not even robots.txt
    [manifest] = run.manifests()
    assert manifest["finish_reason"] == "extraction_unavailable"
    assert manifest["extraction_unavailable"].startswith("ImportError: ")
    assert run.jsonl_lines() == [] and run.warc_files() == []


def test_no_extract_needs_no_extraction(site, broken_install, tmp_path):
    seeds = write_seed_document(site, tmp_path)
    run = run_newsarchive(
        "crawl", str(seeds), "-o", str(tmp_path / "out"), "--no-extract", env=broken_install
    )
    assert run.returncode == 0, run.stderr
    assert run.jsonl_lines() and run.manifests()[0]["extraction_unavailable"] is None
    # re-extraction from that archive refuses to start, and writes no run
    again = run_newsarchive("reextract", "-o", str(tmp_path / "out"), env=broken_install)
    assert again.returncode == 1
    assert "newsarchive reextract: extraction unavailable: ImportError: " in again.stderr
    assert len(list((tmp_path / "out" / "articles").glob("*.jsonl"))) == 1
    assert len(run.manifests()) == 1


def test_most_pages_failing_alike_is_partial(shells, tmp_path):
    urls = [f"{shells.base_url}/{name}.html" for name in ("one", "two", "three", "ferry")]
    run = run_newsarchive("crawl", *urls, "-o", str(tmp_path / "out"))
    assert run.returncode == 3, run.stderr
    assert "extraction failed on 3 of 4 pages with the same error: no main text found" in (
        run.stderr
    )
    stats = run.manifests()[0]["stats"]
    assert stats["seeds_archived"] == stats["seeds_total"] == 4
    assert stats["same_extraction_error"] == {"error": "no main text found", "pages": 3, "of": 4}


def test_some_pages_failing_is_not(shells, tmp_path):
    urls = [f"{shells.base_url}/{name}.html" for name in ("one", "breakwater", "ferry")]
    run = run_newsarchive("crawl", *urls, "-o", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    assert "extraction failed on" not in run.stderr
    stats = run.manifests()[0]["stats"]
    assert (stats["extracted"], stats["extraction_errors"]) == (2, 1)
    assert stats["same_extraction_error"] is None


def test_crawl_whose_component_cannot_load_says_so(site, tmp_path):
    """A middleware that cannot be imported: Scrapy logs it and returns; the crawl exits 1."""
    run = run_newsarchive(
        "crawl", f"{site.base_url}/index.html", "-o", str(tmp_path / "out"),
        "-s", 'DOWNLOADER_MIDDLEWARES={"no_such_package.Middleware": 10}',
    )
    assert run.returncode == 1
    assert ("newsarchive crawl: the crawl could not start: ModuleNotFoundError: "
            "No module named 'no_such_package'") in run.stderr
