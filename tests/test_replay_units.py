"""Replay building blocks on real files: index binary search, nearest capture, revisit
resolution, URL rewriting, text diffs and the search catalogue."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markupsafe import Markup

from newsarchive.capture.warc_writer import WarcFileWriter, warc_date
from newsarchive.replay.app import highlight
from newsarchive.replay.browse import default_comparison, rfc3339, xml_text
from newsarchive.replay.diff import diff_texts
from newsarchive.replay.lookup import ArchiveReader, Capture, NotArchived, nearest, parse_timestamp
from newsarchive.replay.rewrite import (
    UrlRewriter,
    parse_replay_path,
    rewrite_css,
    rewrite_html,
)
from newsarchive.replay.search import CaptureRow, Catalogue, fts_query
from newsarchive.store.cdxj import index_warc, merge_into_index

PAGE = "http://news.test/2024/05/01/story.html"


def _capture(timestamp: str, url: str = PAGE) -> Capture:
    return Capture("test)/", timestamp, url, "text/html", 200, None, "f.warc.gz", 0, 1)


# -- nearest capture ---------------------------------------------------------------------------
def test_nearest_picks_closest_in_time_and_earlier_on_tie():
    captures = [_capture("20240101000000"), _capture("20240103000000"), _capture("20240110000000")]
    assert nearest(captures, "20240102000001").timestamp == "20240103000000"
    assert nearest(captures, "20240101235959").timestamp == "20240101000000"
    assert nearest(captures, "20240102000000").timestamp == "20240101000000"  # tie: earlier
    assert nearest(captures, "2030").timestamp == "20240110000000"
    assert nearest(captures, "1999").timestamp == "20240101000000"
    with pytest.raises(NotArchived):
        nearest([], "2024")


def test_partial_timestamps_pad_low():
    assert parse_timestamp("2024") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_timestamp("20240502") == datetime(2024, 5, 2, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_timestamp("20x4")


# -- an archive built by the project's own WARC writer and indexer -----------------------------
def _http(status: str, content_type: str, body: bytes, extra: str = "") -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head.encode("latin-1")


def _write_response(warc: WarcFileWriter, url: str, when: datetime, body: bytes,
                    status: str = "200 OK", content_type: str = "text/html", extra: str = ""):
    record = warc.make_record(
        "response", url, body, content_type="application/http; msgtype=response",
        http_head=_http(status, content_type, body, extra), date=warc_date(when),
    )
    return warc.write_record(record)


def _write_revisit(warc: WarcFileWriter, original, when: datetime, body: bytes):
    head = _http("200 OK", "text/html", body, "X-Second: yes\r\n")
    record = warc.make_record(
        "revisit", original.target_uri, b"", content_type="application/http; msgtype=response",
        http_head=head, date=warc_date(when),
        warc_headers=[
            ("WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"),
            ("WARC-Refers-To", original.pointer.record_id),
            ("WARC-Refers-To-Target-URI", original.target_uri),
            ("WARC-Refers-To-Date", original.date),
            ("WARC-Payload-Digest", original.payload_digest),
        ],
    )
    return warc.write_record(record)


@pytest.fixture(scope="module")
def small_archive(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    warc = WarcFileWriter(root / "warc", {"software": "test"})
    first = _write_response(warc, PAGE, datetime(2024, 5, 1, 8, tzinfo=UTC), b"<p>version one</p>")
    _write_response(warc, PAGE, datetime(2024, 5, 3, 8, tzinfo=UTC), b"<p>version two</p>")
    _write_revisit(warc, first, datetime(2024, 5, 5, 8, tzinfo=UTC), b"<p>version one</p>")
    _write_response(
        warc, "http://news.test/old", datetime(2024, 5, 1, tzinfo=UTC), b"",
        status="301 Moved Permanently", extra=f"Location: {PAGE}\r\n",
    )
    for n in range(50):  # neighbours in the index on both sides of the page
        for host in ("a.test", "zz.test"):
            _write_response(warc, f"http://{host}/{n}", datetime(2024, 5, 1, tzinfo=UTC), b"x")
    warc.close()
    for path in (root / "warc").glob("*.warc.gz"):
        merge_into_index(root / "index", index_warc(path))
    return root


def test_binary_search_finds_exactly_the_url(small_archive: Path):
    archive = ArchiveReader(small_archive)
    captures = archive.captures(PAGE)
    assert [c.timestamp for c in captures] == ["20240501080000", "20240503080000", "20240505080000"]
    assert archive.captures("https://NEWS.test/2024/05/01/story.html") == captures  # SURT key
    assert archive.captures("http://news.test/2024/05/01/story.htm") == []
    assert [c.url for c in archive.captures("http://a.test/7")] == ["http://a.test/7"]
    assert archive.captures("http://zz.test/49")
    assert archive.captures("http://aaa.test/") == [] and archive.captures("http://zzz.test/") == []


def test_record_read_by_offset(small_archive: Path):
    archive = ArchiveReader(small_archive)
    capture = archive.nearest(PAGE, "20240503")
    resolved = archive.resolve(capture)
    try:
        assert resolved.body.payload() == b"<p>version two</p>"
        assert resolved.head.status == 200
    finally:
        resolved.close()


def test_revisit_resolves_to_original_payload(small_archive: Path):
    archive = ArchiveReader(small_archive)
    revisit = archive.nearest(PAGE, "20240506")
    assert revisit.is_revisit
    resolved = archive.resolve(revisit)
    try:
        assert resolved.body.payload() == b"<p>version one</p>"
        assert resolved.head.http_header("X-Second") == "yes"  # the revisit's own headers
        assert resolved.body.record.rec_type == "response"
    finally:
        resolved.close()


def test_no_path_tricks_through_record_pointers(small_archive: Path):
    store = ArchiveReader(small_archive).warcs
    for name in ("../index/index.cdxj", "..", "/etc/passwd", "a/../../b.warc.gz", "x.txt"):
        with pytest.raises(NotArchived):
            store.open_record(name, 0, 10)
    name = next((small_archive / "warc").glob("*.warc.gz")).name
    with pytest.raises(NotArchived):
        store.open_record(name, 5, 100)  # not a record boundary
    with pytest.raises(NotArchived):
        store.open_record(name, 0, 10**9)  # past the end


# -- URL rewriting -----------------------------------------------------------------------------
def test_html_urls_point_into_the_archive():
    rewriter = UrlRewriter(PAGE, "20240501080000")
    page = (
        b'<html><head><link rel="stylesheet" href="/s.css" integrity="sha384-x">'
        b'<style>body{background:url("bg.png")}</style></head><body class="b">'
        b'<a href="../02/next.html?a=1&amp;b=2">next</a><img src="//cdn.test/i.png"'
        b' srcset="a.png 1x, https://cdn.test/b.png 2x,data:image/png;base64,x,y 3x"'
        b' alt="caf\xc3\xa9">'
        b'<a href="#top">top</a><a href="mailto:x@news.test">mail</a>'
        b'<script src="app.js"></script><script>var s = "<a href=x>";</script>'
        b'<p style="background:url(/p.png)">\xc3\xa9t\xc3\xa9</p></body></html>'
    )
    out = rewrite_html(page, rewriter, "<div id=banner></div>").decode("utf-8")
    assert 'href="/web/20240501080000if_/http://news.test/s.css"' in out
    assert "integrity" not in out
    assert 'url("/web/20240501080000if_/http://news.test/2024/05/01/bg.png")' in out
    assert 'href="/web/20240501080000/http://news.test/2024/05/02/next.html?a=1&amp;b=2"' in out
    assert 'src="/web/20240501080000if_/http://cdn.test/i.png"' in out
    assert ("/web/20240501080000if_/http://news.test/2024/05/01/a.png 1x, "
            "/web/20240501080000if_/https://cdn.test/b.png 2x, data:image/png;base64,x,y 3x") in out
    assert 'href="#top"' in out and 'href="mailto:x@news.test"' in out
    assert 'src="/web/20240501080000if_/http://news.test/2024/05/01/app.js"' in out
    assert 'var s = "<a href=x>";' in out  # script text untouched
    assert "url(/web/20240501080000if_/http://news.test/p.png)" in out
    assert 'alt="café"' in out and "<p " in out and "été" in out  # bytes kept
    assert out.index("<div id=banner>") == out.index('<body class="b">') + len('<body class="b">')


def test_base_href_and_frame_mode():
    rewriter = UrlRewriter(PAGE, "20240501080000", "if_")
    out = rewrite_html(
        b'<head><base href="http://other.test/dir/"></head><a href="x.html">x</a>', rewriter
    ).decode()
    assert 'href="/web/20240501080000if_/http://other.test/dir/x.html"' in out


def test_svg_references_rewritten():
    rewriter = UrlRewriter(PAGE, "20240501080000")
    out = rewrite_html(
        b'<svg><image xlink:href="/a.svg"/><use href="sprite.svg#i"/></svg>', rewriter
    ).decode()
    assert 'xlink:href="/web/20240501080000if_/http://news.test/a.svg"' in out
    assert 'href="/web/20240501080000if_/http://news.test/2024/05/01/sprite.svg#i"' in out


def test_css_urls_and_imports():
    rewriter = UrlRewriter("http://news.test/static/site.css", "20240501080000")
    css = b"@import 'print.css'; .a{background:url(img/a.png)} .b{src:url(data:font/woff2;x)}"
    out = rewrite_css(css, rewriter).decode()
    assert "@import '/web/20240501080000if_/http://news.test/static/print.css'" in out
    assert "url(/web/20240501080000if_/http://news.test/static/img/a.png)" in out
    assert "url(data:font/woff2;x)" in out


def test_replay_paths_parse():
    assert parse_replay_path("/web/20240501080000/http://news.test/a", "x=1") == (
        "20240501080000", "", "http://news.test/a?x=1"
    )
    assert parse_replay_path("/web/2024if_/https:/news.test/") == (
        "2024", "if_", "https://news.test/"
    )
    assert parse_replay_path("/web/2024/file:///etc/passwd") is None
    assert parse_replay_path("/web/../etc/passwd") is None
    assert parse_replay_path("/other") is None


# -- diffs and search --------------------------------------------------------------------------
def test_diff_marks_changed_words_and_escapes():
    old = "First paragraph stays.\nThe council voted 7 to 2.\nA <b>tag</b> line."
    new = "First paragraph stays.\nThe council voted 6 to 3 on Tuesday.\nA <b>tag</b> line."
    diff = diff_texts(old, new)
    kinds = [row.kind for row in diff.rows]
    assert kinds == ["equal", "changed", "equal"]
    changed = diff.rows[1]
    assert "<del>7</del>" in changed.left and "<ins>6</ins>" in changed.right
    assert "<del>2</del><ins>3 on Tuesday</ins>" in changed.inline
    assert "&lt;b&gt;tag&lt;/b&gt;" in diff.rows[2].left
    assert diff.words_added == 4 and diff.words_removed == 2
    assert diff_texts("same", "same").identical


def test_catalogue_is_incremental(tmp_path: Path):
    articles = tmp_path / "articles"
    articles.mkdir()
    jsonl = articles / "20240501T080000Z-abcd.jsonl"
    line = {"url": PAGE, "final_url": PAGE, "status": 200, "fetched_at": "2024-05-01T08:00:00Z",
            "title": "Harbour <expansion>", "text": "The breakwater plan was approved."}
    jsonl.write_text(json.dumps(line) + "\n")
    catalogue = Catalogue(articles, tmp_path / "cache.sqlite")
    assert catalogue.refresh(force=True) == 1
    hits = catalogue.search_articles("BREAKWATER plan", 0, 50)
    assert [h.matched.title for h in hits] == ["Harbour <expansion>"]
    assert "\x02breakwater\x03" in hits[0].snippet
    assert catalogue.search_articles('" OR * NEAR(', 0, 50) == []  # user syntax never reaches FTS5
    with open(jsonl, "a") as stream:
        stream.write(json.dumps({**line, "text": "Now with a lighthouse.",
                                 "fetched_at": "2024-05-02T08:00:00Z"}) + "\n")
        stream.write('{"url": "http://news.test/partial"')  # a line still being written
    assert catalogue.refresh(force=True) == 1
    assert [h.matched.line_no for h in catalogue.search_articles("lighthouse", 0, 50)] == [2]
    assert len(catalogue.timeline(PAGE)) == 2
    assert catalogue.search_url_articles("story", 0, 100)
    assert not catalogue.search_url_articles("%", 0, 100)
    assert Catalogue(articles, tmp_path / "cache.sqlite").refresh(force=True) == 0
    assert fts_query('a "b" c*') == '"a" "b" "c"'


def test_search_snippets_are_escaped_before_marking():
    marked = highlight('<script>alert("x")</script> \x02harbour\x03 & co')
    assert marked == (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; <mark>harbour</mark> &amp; co"
    )


def test_replay_needs_an_archive(tmp_path: Path):
    from tests.conftest import run_newsarchive

    run = run_newsarchive("replay", "-o", str(tmp_path / "nothing"), "--port", "0")
    assert run.returncode == 1 and "holds no archive" in run.stderr


# -- browsing: runs, sites, articles, edits, grouped search, the edits feed -------------------
RUN_1, RUN_2, RUN_3 = "20240501T080000Z-aaaa", "20240502T080000Z-bbbb", "20240503T080000Z-cccc"
STORY = "http://news.test/2024/05/01/harbour.html"
FRONT = "http://news.test/"
OTHER = "http://other.test/2024/05/01/ferry.html"
HOSTILE_TITLE = "<script>alert(1)</script> Ferry \x0b timetable"
FERRY_EDITED = "The ferry leaves at ten.\f]]></content><entry>\x00 <b>injected</b>"
SEVEN = "The harbour commission voted seven to two in favour of the breakwater."
SIX = "The harbour commission voted six to three in favour of the breakwater."


def _line(url: str, run: str, when: str, text: str, change: str, **extra) -> dict:
    return {"url": url, "final_url": url, "status": 200, "fetched_at": when, "run_id": run,
            "title": extra.pop("title", "Harbour plan approved"), "text": text,
            "change": change, "page_type": extra.pop("page_type", "article"), **extra}


def _browse_lines() -> dict[str, list[dict]]:
    """Three runs: the story new, then edited (changed), then captured again unchanged; the
    front page changes every run (a listing: not an edit); a second site; a run of many pages."""
    intro = "A first paragraph that stays the same."
    first = [
        _line(STORY, RUN_1, "2024-05-01T08:00:00Z", f"{intro}\n{SEVEN}", "new"),
        _line(FRONT, RUN_1, "2024-05-01T08:00:01Z", "Front page one", "new",
              page_type="listing", title="News front"),
        _line(OTHER, RUN_1, "2024-05-01T08:00:02Z", "The ferry leaves at nine.", "new",
              title=HOSTILE_TITLE),
        *(_line(f"http://news.test/2024/05/01/brief-{n}.html", RUN_1,
                f"2024-05-01T09:{n // 60:02d}:{n % 60:02d}Z", f"Brief number {n}.", "new",
                title=f"Brief {n}") for n in range(120)),
    ]
    second = [
        _line(STORY, RUN_2, "2024-05-02T08:00:00Z", f"{intro}\n{SIX}", "changed",
              previous={"run_id": RUN_1, "fetched_at": "2024-05-01T08:00:00Z"},
              diff={"added": 1, "removed": 1}),
        _line(FRONT, RUN_2, "2024-05-02T08:00:01Z", "Front page two", "changed",
              page_type="listing", title="News front",
              previous={"run_id": RUN_1, "fetched_at": "2024-05-01T08:00:01Z"}),
        _line(OTHER, RUN_2, "2024-05-01T20:00:00Z", FERRY_EDITED, "changed",
              title=HOSTILE_TITLE, page_type=None),  # not extracted as article: still an edit
    ]
    third = [
        _line(STORY, RUN_3, "2024-05-03T08:00:00Z", f"{intro}\n{SIX}", "unchanged",
              previous={"run_id": RUN_2, "fetched_at": "2024-05-02T08:00:00Z"}),
    ]
    return {RUN_1: first, RUN_2: second, RUN_3: third}


def _write_runs(articles: Path, runs: dict[str, list[dict]]) -> None:
    articles.mkdir(parents=True, exist_ok=True)
    for run, lines in runs.items():
        (articles / f"{run}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_catalogue_browsing_queries(tmp_path: Path):
    articles = tmp_path / "articles"
    runs = _browse_lines()
    _write_runs(articles, {RUN_1: runs[RUN_1], RUN_2: runs[RUN_2]})
    catalogue = Catalogue(articles, tmp_path / "cache.sqlite")
    catalogue.refresh(force=True)
    assert [(s.site, s.articles, s.captures, s.edits) for s in catalogue.sites(0, 10)] == [
        ("news.test", 122, 124, 1), ("other.test", 1, 2, 1)]
    assert [e.url for e in catalogue.edits(0, 10)] == [STORY, OTHER]  # not the listing's change
    assert [e.url for e in catalogue.edits(0, 10, "news.test")] == [STORY]
    newest = catalogue.site_articles("news.test", 0, 2)
    assert [a.url for a in newest] == [FRONT, STORY]  # latest capture first
    assert newest[1].captures == 2 and newest[1].latest.run_id == RUN_2
    assert [r.line_no for r in catalogue.run_captures(RUN_1, 50, 3)] == [51, 52, 53]
    hits = catalogue.search_articles("harbour commission", 0, 10)
    assert [(h.url, h.captures) for h in hits] == [(STORY, 2)]  # one hit for two captures
    assert hits[0].latest.run_id == RUN_2
    assert [h.url for h in catalogue.search_url_articles("harbour", 0, 10)] == [STORY]
    old, text = catalogue.previous(catalogue.edits(0, 1)[0])
    assert old.run_id == RUN_1 and SEVEN in text
    old, text = catalogue.previous(catalogue.edits(1, 1)[0])  # no `previous`: the one before
    assert old.run_id == RUN_1 and text == "The ferry leaves at nine."
    # a third run arrives while the app is open: the summaries follow, incrementally
    _write_runs(articles, {RUN_3: runs[RUN_3]})
    assert catalogue.refresh(force=True) == 1
    assert catalogue.site("news.test").captures == 125
    assert catalogue.site_articles("news.test", 0, 1)[0].url == STORY
    [hit] = catalogue.search_articles("harbour commission", 0, 10)
    assert hit.captures == 3 and hit.matched.run_id == RUN_3  # equal ranks: the latest
    rebuilt = Catalogue(articles, tmp_path / "rebuilt.sqlite")
    rebuilt._FULL_SUMMARY = 0  # every batch rewrites the summaries whole: the same rows
    rebuilt.refresh(force=True)
    assert rebuilt.sites(0, 10) == catalogue.sites(0, 10)
    assert rebuilt.site_articles("news.test", 0, 200) == catalogue.site_articles(
        "news.test", 0, 200)
    (articles / f"{RUN_2}.jsonl").unlink()  # a run deleted: its captures and edits go
    catalogue.refresh(force=True)
    assert catalogue.edit_count() == 0 and catalogue.site("news.test").captures == 123
    assert catalogue.site("other.test").captures == 1


def test_grouped_search_reads_past_many_captures_of_one_article(tmp_path: Path):
    articles = tmp_path / "articles"
    story = [_line(STORY, RUN_1, f"2024-05-01T08:{n // 60:02d}:{n % 60:02d}Z",
                   "Lighthouse lighthouse.", "unchanged") for n in range(100)]
    others = [_line(f"http://news.test/{n}.html", RUN_1, "2024-05-01T09:00:00Z",
                    f"A lighthouse and {n} boats in the bay.", "new", title=f"Boats {n}")
              for n in range(30)]
    _write_runs(articles, {RUN_1: story + others})  # 100 captures of one URL rank first
    catalogue = Catalogue(articles, tmp_path / "cache.sqlite")
    catalogue.refresh(force=True)
    first = catalogue.search_articles("lighthouse", 0, 20)
    assert len(first) == 20 and first[0].url == STORY and first[0].captures == 100
    assert first[0].matched.line_no == 100  # of equal ranks, the latest capture
    rest = catalogue.search_articles("lighthouse", 20, 100)
    urls = [hit.url for hit in first + rest]
    assert len(urls) == len(set(urls)) == 31


def test_default_comparison_is_with_the_previous_capture():
    rows = [CaptureRow(run, 1, STORY, STORY, 200, f"2024-05-0{n}T08:00:00Z", "t", {})
            for n, run in enumerate((RUN_1, RUN_2, RUN_3), start=1)]
    ids = [row.capture_id for row in rows]
    assert default_comparison(rows[1], rows, rows[0]) == (ids[0], ids[1])  # changed: its own
    assert default_comparison(rows[2], rows, None) == (ids[1], ids[2])
    assert default_comparison(rows[0], rows, None) == (ids[0], ids[1])  # the first: the next
    assert default_comparison(rows[2], rows, rows[0]) == (ids[0], ids[2])  # what it was judged on


def test_feed_text_is_xml_text():
    marked = Markup("<p>a<del>b</del></p>")
    assert xml_text(marked) == "&lt;p&gt;a&lt;del&gt;b&lt;/del&gt;&lt;/p&gt;"
    assert xml_text("tab\tok, \x0bvertical tab and \x00nul dropped") == (
        "tab\tok, vertical tab and nul dropped")
    assert rfc3339("2024-05-02T08:00:00Z") == rfc3339("20240502080000") == "2024-05-02T08:00:00Z"


@pytest.fixture(scope="module")
def browse_app(tmp_path_factory):
    """``newsarchive replay`` on an archive of JSONL lines only (no WARC): the browsing pages."""
    root = tmp_path_factory.mktemp("browse")
    _write_runs(root / "articles", _browse_lines())
    (root / "runs").mkdir()
    (root / "runs" / f"{RUN_1}.json").write_text(json.dumps(
        {"run_id": RUN_1, "started": "2024-05-01T08:00:00Z", "seeds": [FRONT]}))
    env = {**os.environ, "NEWSARCHIVE_REPLAY_CACHE": str(root.parent / f"{root.name}-cache")}
    process = subprocess.Popen(
        [sys.executable, "-m", "newsarchive.cli", "replay", "-o", str(root), "--port", "0"],
        env=env, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = ""
        while "Archive at" not in banner:
            banner = process.stderr.readline()
            assert banner, "replay did not start"
        yield "http://127.0.0.1:" + re.findall(r"http://127\.0\.0\.1:(\d+)/", banner)[0]
    finally:
        process.terminate()
        process.wait(timeout=10)


def _fetch(url: str) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_changed_capture_compares_with_its_previous_capture(browse_app: str):
    _, _, page = _fetch(f"{browse_app}/capture/{RUN_2}/1")  # changed, with a later capture
    checked = re.findall(r'name="(a|b)" value="([^"]+)"[^>]*checked', page)
    assert checked == [("a", f"{RUN_1}/1"), ("b", f"{RUN_2}/1")]
    link = re.search(r'id="changes" href="([^"]+)"', page)
    _, _, diff = _fetch(browse_app + link[1].replace("&amp;", "&"))
    assert "<del>seven</del>" in diff and "<ins>six</ins>" in diff and 'id="identical"' not in diff


def test_browsing_pages(browse_app: str):
    _, _, home = _fetch(f"{browse_app}/")
    assert f'href="/run/{RUN_1}"' in home and f'href="/run/{RUN_3}"' in home  # unfinished too
    _, _, run = _fetch(f"{browse_app}/run/{RUN_1}?page=3")
    assert run.count("<tr><td>") == 23 and "page 3 of 3" in run and 'rel="next"' not in run
    assert "Brief 119" in run and "Brief 76" not in run
    _, _, changed = _fetch(f"{browse_app}/run/{RUN_2}?change=changed")
    assert changed.count("<tr><td>") == 3 and "<b>changed (3)</b>" in changed
    assert "edits of articles: 2" in changed  # the front page's change is not one
    _, _, unchanged = _fetch(f"{browse_app}/run/{RUN_2}?change=unchanged")
    assert "No capture on this page." in unchanged
    _, _, bogus = _fetch(f"{browse_app}/run/{RUN_2}?change=%27%20OR%201")
    assert bogus.count("<tr><td>") == 3 and "<b>all (3)</b>" in bogus
    _, _, sites = _fetch(f"{browse_app}/sites")
    assert 'href="/site/news.test"' in sites and 'href="/edits?site=news.test"' in sites
    _, _, site = _fetch(f"{browse_app}/site/other.test")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in site and "<script>" not in site
    _, _, edits = _fetch(f"{browse_app}/edits")
    assert edits.count('class="edit"') == 2 and "News front" not in edits
    assert "&lt;b&gt;injected&lt;/b&gt;" in edits and "<b>injected" not in edits
    assert "<del>seven</del>" in edits and f"a={RUN_2}%2F1" not in edits  # compared with run 1
    for path in ("/run/nope", "/run/..%2Fx", "/site/nowhere.test", "/edits?page=x"):
        code, _, _ = _fetch(browse_app + path)
        assert code == (200 if "page=x" in path else 404), path


def test_search_lists_each_article_once(browse_app: str):
    _, _, page = _fetch(f"{browse_app}/?q=harbour+commission")
    assert page.count('class="title"') == 1 and "3 captures" in page
    assert re.search(rf'class="title" href="/capture/{RUN_3}/1"', page)  # the latest capture
    assert page.index(f"/capture/{RUN_3}/1") < page.index(f"/capture/{RUN_1}/1")
    _, _, page = _fetch(f"{browse_app}/?url=brief-1")
    assert page.count('class="title"') == 20
    assert 'rel="next" href="/?url=brief-1&amp;page=2"' in page


def test_edits_feed_is_atom(browse_app: str):
    import feedparser

    code, headers, body = _fetch(f"{browse_app}/edits.atom")
    assert code == 200 and headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10" and feed.feed.id.startswith("urn:uuid:")
    assert feed.feed.updated == "2024-05-02T08:00:00Z"
    assert any(link.rel == "self" and link.href == f"{browse_app}/edits.atom"
               for link in feed.feed.links)
    entry, ferry = feed.entries
    assert entry.title == "Harbour plan approved" and entry.updated == "2024-05-02T08:00:00Z"
    assert ferry.title == "<script>alert(1)</script> Ferry  timetable"  # text, not markup
    content = ferry.content[0].value  # escaped HTML: the archived markup stays text
    assert "&lt;b&gt;injected&lt;/b&gt;" in content and "]]&gt;&lt;/content&gt;" in content
    assert entry.link == f"{browse_app}/diff?a={RUN_1}%2F1&b={RUN_2}%2F1"
    assert "<del>seven</del>" in entry.content[0].value
    request = urllib.request.Request(f"{browse_app}/edits.atom",
                                     headers={"If-None-Match": headers["etag"]})
    with pytest.raises(urllib.error.HTTPError) as unchanged:
        urllib.request.urlopen(request, timeout=10)
    assert unchanged.value.code == 304  # a feed reader polling an unchanged feed
    _, _, other = _fetch(f"{browse_app}/edits.atom?site=news.test")
    assert not feedparser.parse(other).bozo and len(feedparser.parse(other).entries) == 1
    assert feedparser.parse(other).feed.id != feed.feed.id
