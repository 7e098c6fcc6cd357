"""page_type and extraction_warning (docs/jsonl.md "Page type"): the fixture pages of each kind
in tests/pagetype/, the rules on their own, and what a crawl and a scheduled run make of them."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from newsarchive.capture.warc_writer import RecordPointer, WrittenRecord
from newsarchive.demo.server import SiteServer
from newsarchive.extract.analysis import extract_page, parse_html
from newsarchive.extract.metadata import page_metadata
from newsarchive.extract.pagetype import (
    ARTICLE,
    HOME,
    LISTING,
    OTHER,
    SECTION,
    PageSignals,
    classify,
    url_kind,
)
from newsarchive.schedule.revisit import RevisitPolicy, Verdict
from newsarchive.store.state import ArticleState, FetchState, SqliteStateStore
from tests.conftest import run_newsarchive

FIXTURES = Path(__file__).resolve().parent / "pagetype"
BASE = "http://127.0.0.1:8111"
ARTICLE_PATH = "/2024/05/06/bridge-reopens-a20001.html"
SHELL_PATH = "/2024/05/07/election-night-live-a20002.html"
DECLARED_SHELL_PATH = "/2024/05/08/budget-explained-a20003.html"
PAGES = {  # URL path -> (file, page_type)
    "/": ("index.html", LISTING),
    "/tag/bridges/": ("tag/bridges/index.html", LISTING),
    ARTICLE_PATH: (ARTICLE_PATH[1:], ARTICLE),
    SHELL_PATH: (SHELL_PATH[1:], OTHER),
    DECLARED_SHELL_PATH: (DECLARED_SHELL_PATH[1:], ARTICLE),
    "/contact.html": ("contact.html", OTHER),
}
WARNING = re.compile(r"^the page's text needs scripts: only \d+ words? without them$")


def _extract(path: str) -> dict:
    body = (FIXTURES / PAGES[path][0]).read_text("utf-8").replace("{base}", BASE)
    return extract_page(body.encode("utf-8"), BASE + path, "text/html; charset=utf-8")


@pytest.mark.parametrize("path", list(PAGES))
def test_fixture_pages_are_typed(path):
    result = _extract(path)
    assert result["page_type"] == PAGES[path][1], path
    shell = path in (SHELL_PATH, DECLARED_SHELL_PATH)
    assert (result["extraction_warning"] is not None) is shell
    assert (result["access"] == "scripted") is shell


def test_script_shells_warn_and_are_not_full_access():
    for path in (SHELL_PATH, DECLARED_SHELL_PATH):
        result = _extract(path)
        assert WARNING.match(result["extraction_warning"]), result["extraction_warning"]
        assert f"only {result['word_count']} word" in result["extraction_warning"]
        assert result["access"] == "scripted"


def test_listing_gets_no_guessed_date_but_an_article_keeps_its_own():
    body = (FIXTURES / "index.html").read_bytes()
    guessed = page_metadata(parse_html(body.decode()), BASE + "/").published
    assert guessed is not None  # htmldate would date the front page by a teaser
    assert _extract("/")["published"] is None
    assert _extract(ARTICLE_PATH)["published"] == "2024-05-06T07:45:00+01:00"


def test_main_image_keeps_its_figure_caption():
    images = _extract(ARTICLE_PATH)["images"]
    assert images == [{"url": BASE + "/static/bridge.jpg",
                       "caption": "The reopened bridge at dawn on Sunday.", "role": "main"}]


def test_markdown_headings_follow_html_levels_as_documented():
    markdown = _extract(ARTICLE_PATH)["markdown"]
    assert markdown.startswith("# Old harbour bridge reopens after two years of repairs\n")
    assert "\n## What comes next\n" in markdown
    docs = (Path(__file__).resolve().parent.parent / "docs" / "jsonl.md").read_text()
    assert "`#` for an `<h1>`" in docs and "`##` for `<h2>`" in docs


@pytest.mark.parametrize(("url", "kind"), [
    ("https://news.example/", HOME),
    ("https://news.example/index.html", HOME),
    ("https://news.example/en/", HOME),
    ("https://news.example/world/", SECTION),
    ("https://news.example/tag/harbour/", LISTING),
    ("https://news.example/author/jane-doe", LISTING),
    ("https://news.example/news/page/3/", LISTING),
    ("https://news.example/world/?page=2", LISTING),
    ("https://news.example/?p=3289", None),  # a WordPress post id, not a page number
    ("https://news.example/themen/laien/2021-11-19/new-president", None),
    ("https://news.example/2024/05/01/harbour-a1.html", None),
    ("https://news.example/about-us/", OTHER),
    ("https://news.example/kontakt/impressum-agentur/", OTHER),
])  # fmt: skip
def test_url_kinds(url, kind):
    assert url_kind(url) == kind


def _signals(**changes) -> PageSignals:
    plain = {"declared": None, "url_kind": None, "prose_words": 0, "headlines": 0,
             "teasers": 0, "visible_words": 500, "script_shell": False}
    return PageSignals(**{**plain, **changes})


@pytest.mark.parametrize(("signals", "kind"), [
    (_signals(prose_words=600, url_kind=LISTING), ARTICLE),  # long prose wins over the URL
    (_signals(prose_words=600, declared=LISTING, headlines=12), LISTING),
    (_signals(declared=ARTICLE, prose_words=80, url_kind=LISTING), ARTICLE),  # ?page=2 of one
    (_signals(declared=ARTICLE, url_kind=LISTING, teasers=10, headlines=10), LISTING),
    (_signals(url_kind=HOME, prose_words=120), OTHER),  # a company's front page
    (_signals(url_kind=HOME, headlines=3), LISTING),
    (_signals(url_kind=SECTION, prose_words=240), ARTICLE),  # a wiki's /enchufla
    (_signals(url_kind=SECTION), LISTING),  # an empty section
    (_signals(teasers=9, headlines=9, prose_words=20), LISTING),  # no hint but teasers
    (_signals(teasers=9, headlines=9, prose_words=150), ARTICLE),  # teasers beside a story
    (_signals(headlines=116, teasers=4, prose_words=61), ARTICLE),  # a big menu, not teasers
    (_signals(script_shell=True, visible_words=3), OTHER),
    (_signals(script_shell=True, visible_words=3, declared=ARTICLE), ARTICLE),
])  # fmt: skip
def test_classification_rules(signals, kind):
    result = classify(signals)
    assert result.page_type == kind
    assert result.needs_scripts is signals.script_shell


def test_known_listing_not_due_is_not_a_known_article(tmp_path):
    store = SqliteStateStore(tmp_path / "state.sqlite")
    policy = RevisitPolicy(after=6 * 3600, backoff=2.0, maximum=30 * 86400)
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    fetched = now - timedelta(hours=1)
    date = fetched.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    for url, kind in ((BASE + "/tag/bridges/", LISTING), (BASE + ARTICLE_PATH, ARTICLE)):
        record = WrittenRecord(RecordPointer("x.warc.gz", 0, 10, "<urn:uuid:1>"), "response",
                               url, date, "text/html", 200, "sha1:AAAA")
        store.put_fetch(FetchState(url, "run1", date, 200, None, None, "sha1:AAAA", record,
                                   record))
        store.put_article(ArticleState(url, "run1", date, "sha1:AAAA", "sha1:T", None, None,
                                       page_type=kind))
    assert policy.verdict(store, BASE + "/tag/bridges/", now=now) is Verdict.LISTING_NOT_DUE
    assert policy.verdict(store, BASE + ARTICLE_PATH, now=now) is Verdict.NOT_DUE
    assert policy.verdict(store, BASE + "/tag/bridges/", now=now + timedelta(hours=6)) is (
        Verdict.DUE)
    store.close()


@pytest.fixture(scope="module")
def pagetype_runs(tmp_path_factory):
    """Two crawls of the fixture pages; the front page and the article change in between."""
    root = tmp_path_factory.mktemp("pagetype") / "site"
    shutil.copytree(FIXTURES, root)
    output = tmp_path_factory.mktemp("pagetype-out")
    runs = []
    with SiteServer(root) as server:
        urls = [server.base_url + path for path in PAGES]
        args = ("crawl", *urls, "--depth", "0", "-o", str(output))
        runs.append(run_newsarchive(*args))
        front, article = root / "index.html", root / ARTICLE_PATH[1:]
        front.write_text(front.read_text().replace("More sailings", "Fewer sailings"))
        article.write_text(article.read_text().replace(
            "<h2>What comes next</h2>", "<p>Tolls will not be charged this year, the city "
            "council confirmed late on Sunday evening after a short emergency meeting.</p>\n"
            "<h2>What comes next</h2>"))
        runs.append(run_newsarchive(*args))
    return {"runs": runs, "base": server.base_url}


def test_crawl_writes_page_types_and_counts_them(pagetype_runs):
    first = pagetype_runs["runs"][0]
    base = pagetype_runs["base"]
    assert first.returncode == 0, first.stderr
    lines = {line["url"]: line for line in first.jsonl_lines()}
    for path, (_, kind) in PAGES.items():
        line = lines[base + path]
        assert line["page_type"] == kind, path
        assert "extraction_warning" in line
    assert WARNING.match(lines[base + SHELL_PATH]["extraction_warning"])
    assert lines[base + "/"]["published"] is None
    assert "pages:      6 (200: 6); 2 articles, 2 listings, 2 other" in first.stderr
    assert first.manifests()[0]["stats"]["page_types"] == {"article": 2, "listing": 2, "other": 2}


def test_listing_changes_are_not_article_edits(pagetype_runs):
    second = pagetype_runs["runs"][1]
    base = pagetype_runs["base"]
    assert second.returncode == 0, second.stderr
    manifest = second.manifests()[-1]
    lines = {line["url"]: line for line in second.jsonl_lines()
             if line["run_id"] == manifest["run_id"]}
    assert lines[base + "/"]["change"] == "changed"  # recorded on the line, with its diff
    assert "diff" in lines[base + "/"]
    stats = manifest["stats"]
    assert stats["changes"] == {"changed": 1, "unchanged": 1}
    assert stats["listing_changes"] == {"changed": 1, "unchanged": 3}
    assert [edit["url"] for edit in stats["edited"]] == [base + ARTICLE_PATH]
    assert f"edited:     {base}/ " not in second.stderr
    assert f"edited:     {base + ARTICLE_PATH}" in second.stderr
    assert "(listing and other pages: 0 new, 1 changed, 3 unchanged)" in second.stderr


def _front_page(teasers: int) -> bytes:
    summary = ("The council met late into the night to argue about the harbour budget, and the "
               "vote, when it came, surprised even those who had called for it in the first place.")
    blocks = "".join(
        f'<article class="teaser"><h3><a href="/2024/05/{n:02d}/story-{n}-a{n}.html">Story '
        f"number {n} of the day in the bay</a></h3><p>{summary}</p></article>\n"
        for n in range(1, teasers + 1)
    )
    page = f"<html><head><title>Front</title></head><body><main>{blocks}</main></body></html>"
    return page.encode()


@pytest.mark.parametrize("url", ["https://news.example/", "https://news.example/latest-news-a1"])
def test_teaser_summaries_do_not_add_up_to_an_article(url):
    result = extract_page(_front_page(15), url, "text/html; charset=utf-8")
    assert result["word_count"] > 300  # as many words as an article, in 15 teasers
    assert result["page_type"] == LISTING
    assert result["published"] is None
