"""Discovery documents recognised by content, and the revisit policy's back-off (real SQLite)."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

from newsarchive.capture.warc_writer import RecordPointer, WrittenRecord
from newsarchive.crawl.feeds import DocKind, discover, sniff
from newsarchive.schedule.changes import line_diff
from newsarchive.schedule.revisit import RevisitPolicy, Verdict
from newsarchive.store.state import ArticleState, FetchState, SqliteStateStore

BASE = "https://news.example.com/"

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url>
    <loc>https://news.example.com/2026/11/27/budget.html</loc>
    <news:news>
      <news:publication><news:name>Example</news:name><news:language>en</news:language>
      </news:publication>
      <news:publication_date>2026-11-27T08:15:00+01:00</news:publication_date>
      <news:title>Budget approved</news:title>
    </news:news>
  </url>
  <url><loc>https://news.example.com/2026/11/26/old.html</loc><lastmod>2026-11-26</lastmod></url>
</urlset>"""

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://news.example.com/sitemap-news.xml</loc></sitemap>
  <sitemap><loc>https://news.example.com/sitemap-2026.xml.gz</loc></sitemap>
</sitemapindex>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Example</title>
  <entry><title>Ferry strike</title><link href="/2026/11/27/ferry.html"/>
    <id>tag:news.example.com,2026:1</id><updated>2026-11-27T10:00:00Z</updated></entry>
</feed>"""


def test_news_sitemap_publication_date_is_read():
    found = discover(NEWS_SITEMAP, BASE + "sitemap-news.xml")
    assert found.kind is DocKind.SITEMAP
    dates = {entry.url: entry.lastmod for entry in found.entries}
    assert dates[BASE + "2026/11/27/budget.html"] == datetime(2026, 11, 27, 7, 15, tzinfo=UTC)
    assert dates[BASE + "2026/11/26/old.html"] == datetime(2026, 11, 26, tzinfo=UTC)
    assert {entry.via for entry in found.entries} == {"sitemap"}


def test_sitemap_index_gzipped_lists_sitemaps():
    found = discover(gzip.compress(SITEMAP_INDEX), BASE + "sitemap.xml.gz")
    assert found.kind is DocKind.SITEMAP_INDEX
    assert found.sitemaps == [BASE + "sitemap-news.xml", BASE + "sitemap-2026.xml.gz"]
    assert found.entries == []


def test_atom_feed_relative_links_resolved():
    found = discover(ATOM, BASE + "atom.xml")
    assert found.kind is DocKind.FEED
    [entry] = found.entries
    assert entry.url == BASE + "2026/11/27/ferry.html" and entry.via == "feed"
    assert entry.lastmod == datetime(2026, 11, 27, 10, tzinfo=UTC)


def test_robots_sitemap_lines_and_what_is_not_discovery():
    robots = b"# hello\nUser-agent: *\nDisallow: /admin/\nSitemap: /sitemap.xml\n"
    assert discover(robots, BASE + "robots.txt").sitemaps == [BASE + "sitemap.xml"]
    assert sniff(b"<!DOCTYPE html><html><body>news</body></html>") is DocKind.OTHER
    assert sniff(b"https://news.example.com/a\nhttps://news.example.com/b\n") is DocKind.OTHER
    assert sniff(b"%PDF-1.7 binary") is DocKind.OTHER


def _capture(url: str, when: datetime) -> WrittenRecord:
    pointer = RecordPointer("x.warc.gz", 0, 10, "<urn:uuid:1>")
    date = when.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    return WrittenRecord(pointer, "response", url, date, "text/html", 200, "sha1:AAAA")


def test_revisit_policy_backs_off_for_unchanged_articles(tmp_path):
    store = SqliteStateStore(tmp_path / "state.sqlite")
    policy = RevisitPolicy(after=6 * 3600, backoff=2.0, maximum=30 * 86400)
    url = BASE + "a.html"
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert policy.is_due(store, url, now=now)  # never archived
    fetched = now - timedelta(hours=7)
    capture = _capture(url, fetched)
    store.put_fetch(FetchState(url, "run1", capture.date, 200, None, None, "sha1:AAAA",
                               capture, capture))
    intervals = []
    for unchanged in range(6):
        store.put_article(ArticleState(url, "run1", capture.date, "sha1:AAAA", "sha1:T", None,
                                       None, unchanged_runs=unchanged))
        intervals.append(policy.interval(store.get_article(url)) / 3600)
    assert intervals == [6, 6, 12, 24, 48, 96]
    store.put_article(ArticleState(url, "run1", capture.date, "sha1:AAAA", "sha1:T", None, None,
                                   unchanged_runs=2))
    assert not policy.is_due(store, url, now=now)  # 7 h ago, interval 12 h
    assert policy.is_due(store, url, now=now + timedelta(hours=5))
    assert policy.is_due(store, url, lastmod=now - timedelta(hours=1), now=now)  # modified since
    assert not policy.is_due(store, url, lastmod=fetched - timedelta(days=1), now=now)
    future = now + timedelta(days=3)
    monthly = RevisitPolicy(after=30 * 86400, backoff=1.0, maximum=30 * 86400)
    assert not monthly.is_due(store, url, lastmod=future, now=now)  # a wrong clock: ignored
    assert monthly.is_due(store, url, lastmod=future, now=future + timedelta(seconds=1))
    capped = RevisitPolicy(after=6 * 3600, backoff=2.0, maximum=86400)
    assert capped.interval(ArticleState(url, "r", "", None, None, None, None, 10)) == 86400
    store.close()


def test_revisit_verdict_tells_this_runs_fetches_apart(tmp_path):
    """A URL this run fetched is met again (the sitemap lists a feed entry): a duplicate, not a
    known article that is not due; a resumed run replays its own fetches instead."""
    store = SqliteStateStore(tmp_path / "state.sqlite")
    url = BASE + "a.html"
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    capture = _capture(url, now - timedelta(minutes=1))
    store.put_fetch(FetchState(url, "run2", capture.date, 200, None, None, "sha1:AAAA",
                               capture, capture))
    def policy(run_id, resume=False):
        return RevisitPolicy(6 * 3600, 2.0, 30 * 86400, run_id if resume else None, run_id)

    assert policy("run2").verdict(store, url, now=now) is Verdict.FETCHED_IN_THIS_RUN
    assert not policy("run2").is_due(store, url, now=now)
    assert policy("run2", resume=True).verdict(store, url, now=now) is Verdict.DUE
    assert policy("run3").verdict(store, url, now=now) is Verdict.NOT_DUE
    assert policy("run3").verdict(store, BASE + "new.html", now=now) is Verdict.DUE
    store.close()


def test_line_diff_counts():
    before = "Title\nFirst paragraph.\nSecond paragraph.\nThird."
    after = "Title\nFirst paragraph, corrected.\nSecond paragraph.\nThird.\nCorrection: new."
    assert line_diff(before, after) == {"added": 2, "removed": 1}
    assert line_diff(before, before) == {"added": 0, "removed": 0}
    assert line_diff("", "a\nb") == {"added": 2, "removed": 0}
