"""Discovery documents for recurring runs: RSS/Atom feeds, sitemaps, sitemap indexes, Google-News
sitemaps and robots.txt ``Sitemap:`` lines.

Recognised by content, never by name or Content-Type (servers label feeds text/html, text/xml or
application/octet-stream alike). Parsing is left to well-kept parsers: feedparser for feeds,
Scrapy's sitemap utilities for sitemaps and robots.txt; lxml (as Scrapy configures it: no entity
resolution, no network) reads the ``news:publication_date`` Scrapy's iterator does not keep.
"""

from __future__ import annotations

import calendar
import enum
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin

import lxml.etree

MAX_DOCUMENT = 64 * 1024 * 1024  # a decompressed sitemap may be up to 50 MB (sitemaps.org)
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
_ROBOTS_FIELDS = {"user-agent", "disallow", "allow", "sitemap", "crawl-delay", "host"}


class DocKind(enum.Enum):
    FEED = "feed"
    SITEMAP = "sitemap"
    SITEMAP_INDEX = "sitemap index"
    ROBOTS = "robots.txt"
    OTHER = "other"


@dataclass(frozen=True)
class Entry:
    """An article a feed or sitemap lists."""

    url: str
    lastmod: datetime | None  # lastmod, updated/pubDate or news:publication_date (UTC)
    via: str  # "feed" | "sitemap"


@dataclass
class Discovery:
    kind: DocKind
    entries: list[Entry]
    sitemaps: list[str]  # further sitemaps to read (a sitemap index, robots.txt)


def sniff(body: bytes) -> DocKind:
    """What kind of discovery document ``body`` is (OTHER for anything else, HTML included)."""
    body = _maybe_gunzip(body)
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return _xml_kind(body)
    return DocKind.ROBOTS if _looks_like_robots(head) else DocKind.OTHER


def discover(body: bytes, base_url: str) -> Discovery:
    """Entries and further sitemaps listed by a discovery document at ``base_url``."""
    body = _maybe_gunzip(body)
    kind = sniff(body)
    if kind is DocKind.FEED:
        return Discovery(kind, list(_feed_entries(body, base_url)), [])
    if kind is DocKind.SITEMAP:
        return Discovery(kind, list(_sitemap_entries(body, base_url)), [])
    if kind is DocKind.SITEMAP_INDEX:
        return Discovery(kind, [], [e.url for e in _sitemap_entries(body, base_url)])
    if kind is DocKind.ROBOTS:
        from scrapy.utils.sitemap import sitemap_urls_from_robots

        return Discovery(kind, [], list(sitemap_urls_from_robots(body, base_url=base_url)))
    return Discovery(kind, [], [])


def _maybe_gunzip(body: bytes) -> bytes:
    if body[:2] != b"\x1f\x8b":
        return body
    from scrapy.utils.gz import gunzip

    try:
        return gunzip(body, max_size=MAX_DOCUMENT)
    except Exception:  # noqa: BLE001 - a broken gzip file is just not a sitemap
        return b""


def _xml_kind(body: bytes) -> DocKind:
    root = _root_name(body)
    if root == "urlset":
        return DocKind.SITEMAP
    if root == "sitemapindex":
        return DocKind.SITEMAP_INDEX
    if root in ("rss", "feed", "RDF"):
        return DocKind.FEED
    return DocKind.OTHER


def _root_name(body: bytes) -> str:
    events = lxml.etree.iterparse(
        io.BytesIO(body), events=("start",), recover=True, resolve_entities=False,
        no_network=True, huge_tree=False,
    )
    try:
        _, root = next(events)
    except (StopIteration, lxml.etree.XMLSyntaxError):
        return ""
    tag = root.tag if isinstance(root.tag, str) else ""
    return tag.rpartition("}")[2]


def _looks_like_robots(head: bytes) -> bool:
    """Every non-comment line is a ``Field: value`` robots.txt directive, and there is one."""
    directives = 0
    for raw in head.decode("utf-8", "replace").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, _ = line.partition(":")
        if not sep or name.strip().lower() not in _ROBOTS_FIELDS:
            return False
        directives += 1
    return directives > 0


def _feed_entries(body: bytes, base_url: str) -> Iterator[Entry]:
    import feedparser

    parsed = feedparser.parse(body, response_headers={"content-location": base_url})
    for entry in parsed.entries:
        link = entry.get("link") or _guid_link(entry)
        if not link:
            continue
        stamp = entry.get("updated_parsed") or entry.get("published_parsed")
        lastmod = datetime.fromtimestamp(calendar.timegm(stamp), UTC) if stamp else None
        yield Entry(urljoin(base_url, link.strip()), lastmod, "feed")


def _guid_link(entry) -> str | None:
    guid = entry.get("id") or ""
    return guid if guid.startswith(("http://", "https://")) else None


def _sitemap_entries(body: bytes, base_url: str) -> Iterator[Entry]:
    from scrapy.utils.sitemap import Sitemap

    news_dates = _news_dates(body) if NEWS_NS.encode() in body else {}
    for item in Sitemap(body):
        loc = (item.get("loc") or "").strip()
        if not loc:
            continue
        lastmod = _w3c_date(item.get("lastmod"))
        published = _w3c_date(news_dates.get(loc))
        if published and (lastmod is None or published > lastmod):
            lastmod = published
        yield Entry(urljoin(base_url, loc), lastmod, "sitemap")


def _news_dates(body: bytes) -> dict[str, str]:
    parser = lxml.etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, remove_comments=True
    )
    try:
        root = lxml.etree.fromstring(body, parser=parser)
    except lxml.etree.XMLSyntaxError:
        return {}
    if root is None:
        return {}
    dates: dict[str, str] = {}
    for url in root:
        loc = url.find("{*}loc")
        date = url.find(f"{{{NEWS_NS}}}news/{{{NEWS_NS}}}publication_date")
        if loc is not None and loc.text and date is not None and date.text:
            dates[loc.text.strip()] = date.text.strip()
    return dates


def _w3c_date(text: str | None) -> datetime | None:
    """A sitemap date (W3C datetime: "2024-05-01", "2024-05-01T10:00:00+02:00", "...Z")."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
