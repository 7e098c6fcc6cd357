"""Which links of a fetched page lead to related articles.

Three ways, strongest first: the anchor text (or ``title`` attribute) matches a ``Related article:``
title of the seed document (``via="related-title"``); the link sits in a related-articles block
(an element whose class or id mentions "related"); or it is a same-site link that looks like an
article (:func:`newsarchive.base.urls.looks_like_article`). Both of the latter are ``related-link``.
Only http(s) links inside the allowed domains are returned, each once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from newsarchive.base.urls import (
    InvalidURL,
    in_scope,
    looks_like_article,
    normalize_title,
    normalize_url,
)

if TYPE_CHECKING:
    from scrapy.http import TextResponse

RELATED_BLOCK_XPATH = (
    "//*[contains(translate(@class, 'RELATED', 'related'), 'related')"
    " or contains(translate(@id, 'RELATED', 'related'), 'related')]//a[@href]"
)


@dataclass(frozen=True)
class Link:
    url: str
    via: str  # related-title | related-link
    text: str = ""


@dataclass
class DiscoveredLinks:
    links: list[Link] = field(default_factory=list)
    unmatched_titles: list[str] = field(default_factory=list)


def discover_links(
    response: TextResponse, related_titles: Sequence[str], allowed_domains: Iterable[str]
) -> DiscoveredLinks:
    """The links of a response Scrapy parsed (the crawl does this in its extraction workers,
    with :func:`links_in_tree`, and on the reactor only when they cannot)."""
    from scrapy.utils.response import get_base_url

    return links_in_tree(
        response.selector.root, get_base_url(response), response.url, related_titles,
        allowed_domains,
    )


def links_in_tree(
    root: Any,
    base: str,
    page_url: str,
    related_titles: Sequence[str],
    allowed_domains: Iterable[str],
) -> DiscoveredLinks:
    """The links of the parsed page `root` at `page_url` whose links resolve against `base`."""
    allowed = tuple(allowed_domains)
    anchors = list(_anchors(root.iter("a"), base, with_text=bool(related_titles)))
    in_block = {url for url, _ in _anchors(_related_block_anchors(root), base, False)}
    found = DiscoveredLinks()
    seen: set[str] = {_safe_normalize(page_url) or page_url}

    def add(url: str, via: str, text: str) -> None:
        if url not in seen and _in_scope(url, allowed):
            seen.add(url)
            found.links.append(Link(url, via, text))

    for title in related_titles:
        matches = _match_title(title, anchors)
        if not matches:
            found.unmatched_titles.append(title)
        for url, text in matches:
            add(url, "related-title", text)
    for url, text in anchors:
        if url in seen:
            continue
        if url in in_block or _looks_like_article(url):
            add(url, "related-link", text)
    return found


def _anchors(
    elements: Iterable[Any], base: str, with_text: bool
) -> Iterator[tuple[str, str]]:
    """(normalised absolute URL, anchor text) of each ``<a href>``; the text ("" unless
    ``with_text``) is only needed to match related titles."""
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    for anchor in elements:
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        url = _resolve(base, origin, href)
        if url is None:
            continue
        if not with_text:
            yield url, ""
            continue
        text = " ".join(anchor.text_content().split())
        yield url, text or anchor.get("title", "")


def _match_title(title: str, anchors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    key = normalize_title(title)
    if not key:
        return []
    exact = [(url, text) for url, text in anchors if normalize_title(text) == key]
    if exact:
        return exact[:1]
    # Anchor texts often add a kicker or a date around the headline: accept containment of a
    # title long enough not to match by accident.
    if len(key) >= 20:
        loose = [(url, text) for url, text in anchors if key in normalize_title(text)]
        return loose[:1]
    return []


def _related_block_anchors(root: Any) -> Iterator[Any]:
    """The ``<a>`` inside elements whose class or id mentions "related" (any case): what
    RELATED_BLOCK_XPATH selects, found in one walk of the tree instead of a string
    translation per element."""
    found: set[Any] = set()
    for element in root.iter(etree.Element):
        marks = f"{element.get('class') or ''} {element.get('id') or ''}"
        if "related" in marks.lower():
            found.update(element.iterdescendants("a"))
    return (anchor for anchor in root.iter("a") if anchor in found)


def _resolve(base: str, origin: str, href: str) -> str | None:
    """``normalize_url(urljoin(base, href))``, or None for an invalid URL. Absolute and
    root-relative hrefs do not depend on the page's path: they skip urljoin and are resolved
    from the normalisation cache (normalize_url removes dot segments, as urljoin would)."""
    if href.startswith(("http://", "https://")):
        return _safe_normalize(href)
    if href.startswith("/") and not href.startswith("//"):
        return _safe_normalize(origin + href)
    return _safe_normalize(urljoin(base, href))


# Most links of a news page (navigation, "latest", "most read") repeat on every page: the
# pure, per-URL steps are memoised (bounded, so memory stays flat however long the crawl).
_CACHE_SIZE = 1 << 13


@lru_cache(maxsize=_CACHE_SIZE)
def _safe_normalize(url: str) -> str | None:
    try:
        return normalize_url(url)
    except InvalidURL:
        return None


@lru_cache(maxsize=_CACHE_SIZE)
def _looks_like_article(url: str) -> bool:
    return looks_like_article(url)


@lru_cache(maxsize=_CACHE_SIZE)
def _in_scope(url: str, allowed: tuple[str, ...]) -> bool:
    return in_scope(url, allowed)
