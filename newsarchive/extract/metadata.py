"""Page metadata, cheapest and most explicit source first.

Precedence, field by field: JSON-LD (the page's own ``NewsArticle``/``Article`` object) >
meta tags (Open Graph, ``article:*``, ``name=...``, ``itemprop``) > trafilatura's heuristics
(title from ``<h1>``/``<title>``, author from specific byline markup, sitename) > htmldate
(dates only, without its extensive search). Everything runs on the tree already parsed for
extraction; the slow fallbacks run only for fields the page did not declare.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_sitename,
    extract_title,
    normalize_authors,
)
from trafilatura.utils import trim
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS

ARTICLE_TYPES = frozenset(
    {"article", "newsarticle", "blogposting", "reportagenewsarticle", "analysisnewsarticle",
     "opinionnewsarticle", "reviewnewsarticle", "backgroundnewsarticle", "liveblogposting",
     "techarticle", "scholarlyarticle", "report", "socialmediaposting", "posting"}
)  # fmt: skip
PUBLISHED_METAS = (
    "article:published_time", "og:published_time", "datepublished", "date", "pubdate",
    "publishdate", "publish-date", "dc.date", "dc.date.issued", "dcterms.created",
    "dcterms.date", "parsely-pub-date", "sailthru.date", "article.published",
)  # fmt: skip
MODIFIED_METAS = (
    "article:modified_time", "og:updated_time", "datemodified", "last-modified",
    "dcterms.modified", "article.updated",
)  # fmt: skip
SECTION_METAS = ("article:section", "section", "parsely-section", "category")
IMAGE_METAS = ("og:image", "og:image:url", "twitter:image", "twitter:image:src")
_FALSE = frozenset({"false", "no", "0"})
_MIN_YEAR = 1990
_BYLINE_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_BYLINE_CLASS = re.compile(r"author-?name|AuthorName|authorName")
_JSON_COMMENTS = re.compile(r"^\s*(?:<!--|//<!\[CDATA\[|/\*<!\[CDATA\[\*/)|(?:-->|//\]\]>)\s*$")


@dataclass
class Metadata:
    title: str | None = None
    author: str | None = None
    published: str | None = None
    modified: str | None = None
    sitename: str | None = None
    description: str | None = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    image_caption: str | None = None
    language: str | None = None
    url: str | None = None
    # evidence about the body, from JSON-LD
    article_body: str | None = None
    word_count: int | None = None
    accessible_for_free: bool | None = None


# --- JSON-LD -----------------------------------------------------------------------------------


def json_ld_objects(tree: HtmlElement) -> Iterator[dict[str, Any]]:
    """Every JSON object of the page's JSON-LD scripts, @graph members and lists flattened."""
    for script in tree.iterfind(".//script[@type]"):
        if script.get("type", "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(_JSON_COMMENTS.sub("", script.text.strip()), strict=False)
        except ValueError:
            continue
        yield from _flatten(data)


def _flatten(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _flatten(data["@graph"])


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.rsplit("/", 1)[-1].lower() for k in kinds if isinstance(k, str)}


def article_object(tree: HtmlElement) -> dict[str, Any] | None:
    """The page's article object: the first of an article type, the longest body winning."""
    articles = [obj for obj in json_ld_objects(tree) if _types(obj) & ARTICLE_TYPES]
    if not articles:
        return None
    return max(articles, key=lambda obj: len(_text(obj.get("articleBody")) or ""))


def from_json_ld(obj: dict[str, Any]) -> Metadata:
    image, caption = _image(obj.get("image"))
    sections = _strings(obj.get("articleSection"))
    return Metadata(
        title=_text(obj.get("headline")) or _text(obj.get("name")),
        author=_names(obj.get("author")),
        published=iso_datetime(_text(obj.get("datePublished"))),
        modified=iso_datetime(_text(obj.get("dateModified"))),
        sitename=_names(obj.get("publisher")),
        description=_text(obj.get("description")),
        categories=sections,
        tags=_keywords(obj.get("keywords")),
        image=image,
        image_caption=caption,
        language=_text(obj.get("inLanguage")),
        url=_text(obj.get("url")),
        article_body=_text(obj.get("articleBody")),
        word_count=_int(obj.get("wordCount")),
        accessible_for_free=_accessible(obj),
    )


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if isinstance(value, str) and value.strip():
        return " ".join(value.split()) if len(value) < 500 else value.strip()
    return None


def _strings(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def _keywords(value: Any) -> list[str]:
    parts = (part.strip() for item in _strings(value) for part in item.split(","))
    return list(dict.fromkeys(part for part in parts if part))


def _names(value: Any) -> str | None:
    """Names of a Person/Organization (or a list of them, or plain strings), joined by '; '."""
    values = value if isinstance(value, list) else [value]
    names = []
    for item in values:
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name.strip() and not name.startswith(("http://", "https://")):
            names.append(" ".join(name.split()))
    return "; ".join(dict.fromkeys(names)) or None


def _image(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, str):
        return value.strip() or None, None
    if isinstance(value, dict):
        return _text(value.get("url") or value.get("contentUrl")), _text(value.get("caption"))
    return None, None


def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip().replace(",", ""))
    except ValueError:
        return None
    return number if number > 0 else None


def _accessible(obj: dict[str, Any]) -> bool | None:
    """isAccessibleForFree of the article, or of any of its parts (a paywalled section)."""
    values = [obj.get("isAccessibleForFree")]
    parts = obj.get("hasPart")
    for part in parts if isinstance(parts, list) else [parts]:
        if isinstance(part, dict):
            values.append(part.get("isAccessibleForFree"))
    flags = [_flag(v) for v in values if v is not None]
    if False in flags:
        return False
    return True if flags else None


def _flag(value: Any) -> bool:
    return value.strip().lower() not in _FALSE if isinstance(value, str) else bool(value)


# --- meta tags ---------------------------------------------------------------------------------


def meta_values(tree: HtmlElement) -> dict[str, list[str]]:
    """Meta tag contents by lower-cased property/name/itemprop, in document order; also
    ``<time itemprop=...>`` datetimes."""
    found: dict[str, list[str]] = {}
    for meta in tree.iterfind(".//meta[@content]"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop") or ""
        content = meta.get("content", "").strip()
        if key and content:
            found.setdefault(key.strip().lower(), []).append(content)
    for time in tree.iterfind(".//time[@itemprop]"):
        value = time.get("datetime") or (time.text or "")
        if value.strip():
            found.setdefault(time.get("itemprop", "").lower(), []).append(value.strip())
    return found


def _first(
    values: dict[str, list[str]],
    keys: tuple[str, ...],
    convert: Callable[[str], str | None] | None = None,
) -> str | None:
    for key in keys:
        for value in values.get(key, ()):
            result = convert(value) if convert else value
            if result:
                return result
    return None


# --- dates -------------------------------------------------------------------------------------


def iso_datetime(value: str | None) -> str | None:
    """ISO 8601: with time and offset when the source has them, else the date alone."""
    if not value:
        return None
    text = value.strip().replace(" ", "T", 1) if len(value.strip()) > 10 else value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return _date_only(value)
    if not _plausible(moment.year):
        return None
    if len(text) <= 10:
        return moment.date().isoformat()
    return moment.isoformat()


def _date_only(value: str) -> str | None:
    match = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})", value)
    if not match:
        return None
    try:
        day = datetime(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None
    return day.date().isoformat() if _plausible(day.year) else None


def _plausible(year: int) -> bool:
    return _MIN_YEAR <= year <= datetime.now().year + 1


# --- all together ------------------------------------------------------------------------------


def page_metadata(tree: HtmlElement, url: str | None, guess_date: bool = True) -> Metadata:
    """Metadata of the page in `tree` (not modified), by the precedence above. Without
    `guess_date` (a listing: htmldate would find its newest teaser's date), ``published`` is
    only what the page declares."""
    obj = article_object(tree)
    result = from_json_ld(obj) if obj else Metadata()
    metas = meta_values(tree)
    declared = examine_meta(tree)  # trafilatura's reading of the meta tags
    result.title = result.title or _clean_title(declared.title) or extract_title(tree)
    result.author = result.author or _person(declared.author) or _byline(tree)
    result.sitename = result.sitename or declared.sitename or extract_sitename(tree)
    result.description = result.description or declared.description
    # trafilatura's category/tag link heuristics are left out (their cost: docs/quality.md)
    result.categories = result.categories or _split(_first(metas, SECTION_METAS))
    result.tags = result.tags or _split_all(declared.tags)
    result.image = result.image or _first(metas, IMAGE_METAS)
    result.url = result.url or declared.url
    result.published = result.published or _first(metas, PUBLISHED_METAS, iso_datetime)
    result.modified = result.modified or _first(metas, MODIFIED_METAS, iso_datetime)
    if not result.published and guess_date:
        result.published = _htmldate(tree, url)
    return result


def _htmldate(tree: HtmlElement, url: str | None) -> str | None:
    """htmldate without its extensive search (the costly part), original date wanted."""
    try:
        found = find_date(
            tree, url=url, extensive_search=False, original_date=True,
            max_date=datetime.now().strftime("%Y-%m-%d"),
        )  # fmt: skip
    except Exception:  # htmldate bugs must not cost the page
        return None
    return iso_datetime(found) if found else None


def _byline(tree: HtmlElement) -> str | None:
    """The specific half of trafilatura's extract_author (rel=author, itemprop=author,
    class=author...), without its generic patterns and its copy of the tree (docs/quality.md).
    A byline inside what it would prune (comments, sidebars, dates, figures) is skipped."""
    discarded: set[HtmlElement] | None = None
    for elem in _byline_candidates(tree):
        content = trim(" ".join(elem.itertext()))
        if not content or not 2 < len(content) < 120:
            continue
        if discarded is None:
            discarded = {found for expr in AUTHOR_DISCARD_XPATHS for found in expr(tree)}
        if elem not in discarded and not any(a in discarded for a in elem.iterancestors()):
            return normalize_authors(None, content)
    return None


def _byline_candidates(tree: HtmlElement) -> list[HtmlElement]:
    """What trafilatura's first author XPath finds (the same elements on the whole dev set),
    found by lxml's tag filter and checked here, which is cheaper than the XPath in libxml2."""
    return [
        elem
        for elem in tree.iter("author", *_BYLINE_TAGS)
        if elem.tag == "author" or _is_byline(elem)
    ]


def _is_byline(elem: HtmlElement) -> bool:
    css = elem.get("class") or ""
    return (
        elem.get("rel") == "author" or elem.get("id") == "author" or css == "author"
        or elem.get("itemprop") == "author name"
        or elem.get("data-testid") in ("AuthorCard", "AuthorURL")
        or bool(_BYLINE_CLASS.search(css))
    )  # fmt: skip


def _person(author: str | None) -> str | None:
    # a single word is usually a site or desk name, as trafilatura judges too
    return author if author and " " in author.strip() else None


def _clean_title(title: str | None) -> str | None:
    return " ".join(title.split()) if title and title.strip() else None


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _split_all(values: list[str] | None) -> list[str]:
    parts = (part.strip() for value in values or [] for part in value.split(","))
    return list(dict.fromkeys(part for part in parts if part))


# --- what the capture holds --------------------------------------------------------------------

FULL, TEASER, PAYWALLED, SCRIPTED = "full", "teaser", "paywalled", "scripted"
TEASER_SHARE = 0.5  # extracted words below this share of the declared length: a teaser
MIN_DECLARED_WORDS = 80  # shorter declared bodies say too little to judge by


def access(meta: Metadata, words: int) -> str:
    """``paywalled`` when JSON-LD says isAccessibleForFree: false; ``teaser`` when the text is
    much shorter than the length the page declares (wordCount, or its articleBody); else
    ``full``."""
    if meta.accessible_for_free is False:
        return PAYWALLED
    declared = meta.word_count or (len(meta.article_body.split()) if meta.article_body else 0)
    if declared >= MIN_DECLARED_WORDS and words < TEASER_SHARE * declared:
        return TEASER
    return FULL


MAX_IMAGES = 20


def page_images(tree: HtmlElement, url: str, meta: Metadata) -> list[dict[str, str | None]]:
    """The main image (JSON-LD, else og:image) first, then the figures of the article with
    their captions: ``[{"url", "caption", "role": "main"|"figure"}]``, absolute URLs."""
    images: list[dict[str, str | None]] = []
    if meta.image:
        images.append(_image_entry(url, meta.image, meta.image_caption, "main"))
    scope = next(iter(tree.iterfind(".//article")), None)
    for figure in (scope if scope is not None else tree).iterfind(".//figure"):
        img = next(iter(figure.iterfind(".//img")), None)
        if img is None:
            continue
        src = img.get("src") or img.get("data-src") or ""
        if not src.strip() or src.startswith("data:"):
            continue
        caption = next(iter(figure.iterfind(".//figcaption")), None)
        text = " ".join(caption.text_content().split()) if caption is not None else None
        images.append(_image_entry(url, src, text or img.get("alt") or None, "figure"))
    unique: dict[str, dict[str, str | None]] = {}
    for entry in images:  # the first entry of a URL stays, with the first caption found
        kept = unique.setdefault(entry["url"] or "", entry)
        kept["caption"] = kept["caption"] or entry["caption"]  # the main image's <figcaption>
    unique.pop("", None)
    return list(unique.values())[:MAX_IMAGES]


def _image_entry(base: str, src: str, caption: str | None, role: str) -> dict[str, str | None]:
    absolute = urljoin(base, src.strip())
    if urlsplit(absolute).scheme not in ("http", "https"):
        absolute = ""
    return {"url": absolute, "caption": caption, "role": role}
