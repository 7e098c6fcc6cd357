"""Which links of a fetched page lead to related articles.

Three ways, strongest first: the anchor text (or ``title`` attribute) matches a ``Related article:``
title of the seed document (``via="related-title"``); the link sits in a related-articles block
(an element whose class or id mentions "related"); or it is a same-site link that looks like an
article (:func:`newsarchive.urls.looks_like_article`). Both of the latter are ``related-link``.
Only http(s) links inside the allowed domains are returned, each once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from scrapy.http import TextResponse

from newsarchive.urls import (
    InvalidURL,
    in_scope,
    looks_like_article,
    normalize_title,
    normalize_url,
)

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
    allowed = tuple(allowed_domains)
    anchors = [(url, text) for url, text in _anchors(response, "//a[@href]")]
    in_block = {url for url, _ in _anchors(response, RELATED_BLOCK_XPATH)}
    found = DiscoveredLinks()
    seen: set[str] = {_safe_normalize(response.url) or response.url}

    def add(url: str, via: str, text: str) -> None:
        if url not in seen and in_scope(url, allowed):
            seen.add(url)
            found.links.append(Link(url, via, text))

    for title in related_titles:
        matches = _match_title(title, anchors)
        if not matches:
            found.unmatched_titles.append(title)
        for url, text in matches:
            add(url, "related-title", text)
    for url, text in anchors:
        if url in in_block or looks_like_article(url):
            add(url, "related-link", text)
    return found


def _anchors(response: TextResponse, xpath: str) -> Iterable[tuple[str, str]]:
    for anchor in response.xpath(xpath):
        href = (anchor.attrib.get("href") or "").strip()
        if not href or href.startswith("#"):
            continue
        url = _safe_normalize(response.urljoin(href))
        if url is None:
            continue
        text = " ".join(anchor.xpath("string()").get("").split())
        yield url, text or anchor.attrib.get("title", "")


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


def _safe_normalize(url: str) -> str | None:
    try:
        return normalize_url(url)
    except InvalidURL:
        return None
