"""Page metadata, cheapest and most explicit source first, each field chosen by evidence.

Precedence, field by field: JSON-LD (the page's own ``NewsArticle``/``Article`` object, in any
of the shapes real sites use) > meta tags (Open Graph, ``article:*``, ``name=...``,
``itemprop``) > trafilatura's heuristics (title from ``<h1>``/``<title>``, author from byline
markup by its author XPaths, sitename) > htmldate (dates only, without its extensive search).
A value must pass its field's checks (`_checked_title`, `_checked_author`, `_checked_date`),
else the next source is tried; where sources disagree, the visible page decides. Everything
runs on the tree already parsed for extraction; the slow fallbacks run only for fields the page
did not declare. The rules and their evidence: docs/jsonl.md, docs/quality.md.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

from htmldate import find_date
from htmldate.extractors import try_date_expr
from lxml.html import HtmlElement
from trafilatura.metadata import (
    examine_meta,
    extract_sitename,
    extract_title,
    normalize_authors,
)
from trafilatura.utils import trim
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS

from newsarchive.base.urls import InvalidURL, registered_domain, url_host

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
LISTING_TYPES = frozenset({"collectionpage", "searchresultspage"})
_SCHEMA_PREFIX = re.compile(r"^(?:schema:|https?://schema\.org/)")
_TYPE_PREFIX = re.compile(r"^.*[/:#]")
_FALSE = frozenset({"false", "no", "0"})
_MIN_YEAR = 1990
_BYLINE_TAGS = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_AUTOR_CLASS = re.compile(r"(?:^|[\s_-])[Aa]utor(?:$|[\s_-]|in\b|es\b)")
_SITE_CREDITS = re.compile(  # a class name (whole) of the site's credits
    r"powered(?:[-_]?by)?|site[-_](?:info|credits?)|credits|copyright|theme[-_](?:author|name|credits?)",
    re.I,
)
_CREDIT = re.compile(r"(?:Foto|Fotos|Photo|Photos|Bild|Image)\b", re.I)  # a picture's credit
# trafilatura.xpaths.AUTHOR_XPATHS[1:] as lxml tag filters and Python patterns
_GENERIC_TAGS = frozenset({"a", "div", "h3", "h4", "p", "span"})
_GENERIC_CLASSES = frozenset({"byline", "username", "byl", "BBL"})
_GENERIC_ID = re.compile(r"author|zuozhe|bianji|xiaobian")
_GENERIC_CLASS = re.compile(
    r"author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name"
)
_LAST_ID = re.compile(r"[Aa]uthor")
_LAST_CLASS = re.compile(r"[Aa]uthor|screenname|writer|[Bb]yline")
_LABEL = re.compile(  # a byline element's label, date or source line, not a name
    r"(?:stand|datum|veröffentlicht|aktualisiert|posted|published|updated|follow|user|name|"
    r"article by|źródło|quelle|source|domena publiczna)\b|(?:autor|author|auteurs?)$",
    re.I,
)
_BYLINE_CLASS = re.compile(r"author-?name|AuthorName|authorName")
_WORD = re.compile(r"\w+")
_WEB = re.compile(  # a web address, also as trafilatura normalises one ("Facebook Com")
    r"https?://|\bwww\b|\.(?:com|org|net)\b|^\S+ (?:Com|De|Org|Net|At|Ch|Fr|It|Pl|Uk)$", re.I
)
_BYLINE_PREFIX = re.compile(  # byline labels trafilatura leaves before a name, by language
    r"^(?:(?:written |posted )?by|von|beitrag von|text(?: und| &)?(?: fotos?)?|interview|por|"
    r"par|di|door|de|af|av|autor|autorin|auteur|author)\s*[:|]?\s+(?=\S)",
    re.I,
)
_ORGANIZATION = re.compile(  # a company's or association's name, not a byline's
    r"\b(?:GmbH|AG|KG|e\.? ?V|Verein|Ltd|Inc|LLC|S\.A|SRL)\b\.?"
)
_PLACEHOLDERS = frozenset(  # a CMS's default or a label left alone, not a name
    {"unknown", "anonymous", "admin", "administrator", "author", "guest", "text", "interview"}
)
_NAME_START = re.compile(r"\w", re.U)
_CSS = re.compile(r"\{[^{}]*:[^{}]*;[^{}]*\}")  # style sheet text read as a heading's
_TITLE_AGREEMENT = 0.5  # share of a title's words the page's <title>/<h1> must show
_MAX_HEADINGS = 3
_TITLE_SEPARATOR = re.compile(r"\s[-|–—·•›»/:]{1,2}\s|\s?[|·•›»]\s?|:\s")
_AFFIX_SEPARATOR = re.compile(r"(\s[-|–—·•]\s|\s?[|·•]\s?)")  # kept in the split
_MIN_HOST_LABEL = 4  # letters of a host name that can stand for the site's name
_MAX_SITE_WORDS = 4  # words of a segment that spells the host ("Global Voices auf Deutsch")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_CUT_LENGTH = 100  # characters of a title cut at a length limit
_HEADER_END = 200  # characters of a paragraph that ends the article's header
_PUBLISHED_LABEL = re.compile(
    r"\b(?:opublikowano|veröffentlicht(?: am)?|publiziert(?: am)?|erschienen(?: am)?|"
    r"publicado(?: el)?|publié(?: le)?|pubblicato(?: il)?|published(?: on)?|posted(?: on)?)"
    r"\s*:?\s*(?P<date>\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?|"
    r"\d{1,2}\.\d{1,2}\.\d{4}(?:,? \d{1,2}:\d{2})?)",
    re.I,
)
_LABEL_SCAN = 3000  # characters of the article's first text searched for a labelled date
_INITIAL = re.compile(r"(?<!\S)([A-Z])(?= )")
_MIN_SITE_PART = 3  # words of an author that, as a part of the site's name, make it the site's
_DATE_LINE_PIECES = 6  # text pieces after the headline where its date line may be
_DATE_LINE_LENGTH = 50  # characters of a text piece read as a date line
_EARLIEST = datetime(_MIN_YEAR, 1, 1)
_MAX_TIMES = 20  # <time> elements looked at for the page's own form of a date
_DATE_SLACK = timedelta(days=1)  # a page's clock ahead of the capture's
_CLOCK = (
    r"(?:,?[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?!\s*[AaPp]\.?[Mm]))?"
)
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")  # a date line writes its year in full
_SPACED_DOTS = re.compile(r"(\d)\.\s+(?=\d)")
_DOTTED = re.compile(r"\s*(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4})" + _CLOCK)
_YEAR_FIRST = re.compile(r"\s*(?P<year>\d{4})[-/](?P<month>\d{2})[-/](?P<day>\d{2})" + _CLOCK)
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
    """Every JSON object of the page's JSON-LD scripts, whatever their shape: top-level arrays,
    ``@graph`` members and a page's ``mainEntity`` flattened; ``schema:`` prefixed keys (an
    ``@context`` object naming a prefix) read as plain ones."""
    for script in tree.iterfind(".//script[@type]"):
        if script.get("type", "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(_JSON_COMMENTS.sub("", script.text.strip()), strict=False)
        except ValueError:
            continue
        yield from _flatten(_unprefixed(data))


def _flatten(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _flatten(item)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity"):
            if isinstance(data.get(key), (dict, list)):
                yield from _flatten(data[key])


def _unprefixed(data: Any) -> Any:
    """Keys as ``schema:headline`` or ``http://schema.org/headline`` read as ``headline``;
    string values with HTML entities (``&#8216;``, ``&quot;``) decoded."""
    if isinstance(data, list):
        return [_unprefixed(item) for item in data]
    if isinstance(data, dict):
        return {_SCHEMA_PREFIX.sub("", key): _unprefixed(value) for key, value in data.items()}
    if isinstance(data, str) and "&" in data:  # HTML entities many CMSs leave in their strings
        return unescape(data)
    return data


def json_ld_types(obj: dict[str, Any]) -> set[str]:
    """An object's ``@type``s, lower case, without a vocabulary prefix (``schema:``, a URL)."""
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {_TYPE_PREFIX.sub("", k).lower() for k in kinds if isinstance(k, str)}


def article_object(
    tree: HtmlElement, url: str | None = None, objects: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The page's own article object. Of several, the one naming the page's URL, else the one
    whose headline the page shows (``<title>``, ``<h1>``), else the longest body, else the first.
    None on a listing page (CollectionPage, ItemList of the page) unless an article is the page's.
    Author references by ``@id`` are resolved."""
    objects = list(json_ld_objects(tree)) if objects is None else objects
    articles = [obj for obj in objects if json_ld_types(obj) & ARTICLE_TYPES]
    if not articles:
        return None
    shown = visible_title_words(tree)

    def evidence(obj: dict[str, Any]) -> tuple[bool, bool, int]:
        titles = (_text(obj.get("headline")), _text(obj.get("name")))
        return (
            _names_page(obj, url),
            any(_agrees(title, shown) for title in titles if title),
            len(_text(obj.get("articleBody")) or ""),
        )

    best = max(articles, key=evidence)
    names_page, shows_title, _ = evidence(best)
    if not (names_page or shows_title) and _is_listing(objects, url):
        return None
    return _with_references(best, objects)


def _names_page(obj: dict[str, Any], url: str | None) -> bool:
    """Whether the object's url, @id or mainEntityOfPage is the page's URL."""
    if not url:
        return False
    page = obj.get("mainEntityOfPage")
    candidates = [obj.get("url"), obj.get("@id"), page]
    if isinstance(page, dict):
        candidates += [page.get("@id"), page.get("url")]
    return any(isinstance(c, str) and _same_page(urljoin(url, c.strip()), url) for c in candidates)


def _same_page(one: str, other: str) -> bool:
    first, second = urlsplit(one), urlsplit(other)
    return (
        first.netloc.lower().removeprefix("www.") == second.netloc.lower().removeprefix("www.")
        and first.path.rstrip("/") == second.path.rstrip("/")
        and bool(first.path.strip("/"))
    )


def _is_listing(objects: list[dict[str, Any]], url: str | None) -> bool:
    """A page that declares itself a listing: a CollectionPage/SearchResultsPage, or an
    ItemList that is the page's own."""
    for obj in objects:
        kinds = json_ld_types(obj)
        if kinds & LISTING_TYPES or ("itemlist" in kinds and _names_page(obj, url)):
            return True
    return False


def _with_references(obj: dict[str, Any], objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The object with its author references (``{"@id": ...}``) replaced by the objects of the
    page they name. (A publisher named by reference is left out of the sitename: it is the
    company more often than the site.)"""
    known = _known(objects)
    resolved = dict(obj)
    for key in ("author",):
        value = obj.get(key)
        if isinstance(value, list):
            resolved[key] = [_resolve(item, known) for item in value]
        elif value is not None:
            resolved[key] = _resolve(value, known)
    return resolved


def _known(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The page's objects by their @id (those that are more than a reference)."""
    return {o["@id"]: o for o in objects if isinstance(o.get("@id"), str) and len(o) > 1}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resolve(value: Any, known: dict[str, dict[str, Any]]) -> Any:
    if isinstance(value, dict) and "name" not in value and isinstance(value.get("@id"), str):
        return known.get(value["@id"], value)
    return value


def from_json_ld(obj: dict[str, Any]) -> Metadata:
    image, caption = _image(obj.get("image"))
    sections = _strings(obj.get("articleSection"))
    return Metadata(
        title=_text(obj.get("headline")) or _text(obj.get("name")),
        author=_authors(obj.get("author")),
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


def _authors(value: Any, kind: str = "person") -> str | None:
    """The authors of the given kind (``person``: also untyped names and plain strings;
    ``declared person``: Person objects only; never an Organization),
    normalised as trafilatura normalises names (entities decoded first)."""
    found = None
    for item in value if isinstance(value, list) else [value]:
        kinds = json_ld_types(item) if isinstance(item, dict) else set()
        if kind == "declared person" and "person" not in kinds:
            continue
        if kinds and "person" not in kinds:  # an Organization is no author (docs/jsonl.md)
            continue
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(item, dict) and not name and item.get("familyName"):
            name = f"{item.get('givenName') or ''} {item['familyName']}"
        for text in _strings(name):
            found = _with_initials(normalize_authors(found, unescape(text)), text)
    return found


def _with_initials(names: str | None, raw: str) -> str | None:
    """The names with the periods of initials trafilatura drops ("Gustavo E Méndez" for
    "Gustavo E. Méndez") put back where `raw` has them."""
    if not names:
        return names
    return _INITIAL.sub(lambda m: f"{m[1]}." if f"{m[1]}." in raw else m[1], names)


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
    """The other forms CMSs write in their meta tags and JSON-LD: RFC 2822 ("Wed, 04 May 2022
    02:41:00 GMT"), day-first with dots ("10.12.2022, 07:00:03"), year-first with slashes
    ("2022/05/10 17:36:11"); else the leading YYYY-MM-DD. The time is kept when written."""
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        moment = None
    if moment is not None:
        return moment.isoformat() if _plausible(moment.year) else None
    match = _DOTTED.match(value) or _YEAR_FIRST.match(value)
    if not match:
        return None
    parts = match.groupdict()
    try:
        moment = datetime(
            int(parts["year"]), int(parts["month"]), int(parts["day"]),
            int(parts["hour"] or 0), int(parts["minute"] or 0), int(parts["second"] or 0),
        )  # fmt: skip
    except ValueError:
        return None
    if not _plausible(moment.year):
        return None
    return moment.isoformat() if parts["hour"] else moment.date().isoformat()


def _plausible(year: int) -> bool:
    return _MIN_YEAR <= year <= datetime.now().year + 1


# --- all together ------------------------------------------------------------------------------


def page_metadata(
    tree: HtmlElement,
    url: str | None,
    captured: datetime | None = None,
    guess_date: bool = True,
    objects: list[dict[str, Any]] | None = None,
) -> Metadata:
    """Metadata of the page in `tree` (not modified). Each field takes the first source, in the
    precedence above, whose value passes its checks (`_checked_title`, `_checked_author`,
    `_checked_date`); where declared sources disagree, the one the visible page agrees with.
    `captured`: when the page was fetched (now if not given), the latest plausible date.
    Without `guess_date` (a listing: htmldate would find its newest teaser's date),
    ``published`` is only what the page declares. `objects`: the page's JSON-LD objects, if
    already read (:func:`json_ld_objects`)."""
    objects = list(json_ld_objects(tree)) if objects is None else objects
    obj = article_object(tree, url, objects)
    result = from_json_ld(obj) if obj else Metadata()
    metas = meta_values(tree)
    declared = examine_meta(tree)  # trafilatura's reading of the meta tags
    site = _site_names(obj, objects, declared.sitename, url)
    result.sitename = result.sitename or declared.sitename or extract_sitename(tree)
    result.title = _checked_title(tree, site, (
        lambda: result.title, lambda: _text(obj.get("name")) if obj else None,
        lambda: _clean_title(declared.title), lambda: extract_title(tree),
    ))  # fmt: skip
    result.title = _without_site_affix(_shown_title(tree, result.title, site), site, url)
    result.author = _checked_author(site, (
        lambda: _authors(obj.get("author"), "declared person") if obj else None,
        lambda: result.author, lambda: _person(declared.author),
        lambda: _page_author(objects, url), lambda: _byline(tree),
    ), blog=_published_by_person(obj, objects))  # fmt: skip
    result.description = result.description or declared.description
    # trafilatura's category/tag link heuristics are left out (their cost: docs/quality.md)
    result.categories = result.categories or _split(_first(metas, SECTION_METAS))
    result.tags = result.tags or _split_all(declared.tags)
    result.image = result.image or _first(metas, IMAGE_METAS)
    result.url = result.url or declared.url
    latest = captured or datetime.now(UTC)
    published = _dates(result.published, metas, PUBLISHED_METAS)
    result.published = _local(tree, _checked_date(tree, published, latest))
    if not result.published and guess_date:  # found on the page, not declared: articles only
        result.published = (
            _labelled_date(tree, latest)
            or _header_time(tree, latest)
            or _htmldate(tree, url)
            or _date_line(tree, latest)
        )
    modified = _dates(result.modified, metas, MODIFIED_METAS)
    result.modified = _checked_date(tree, modified, latest, shown=False)
    return result


# --- checks: each field chosen by evidence -------------------------------------------------------


def visible_title_words(tree: HtmlElement) -> set[str]:
    """The words of the titles the page shows: its ``<title>`` and its ``<h1>`` headings."""
    texts = [title.text_content() for title in tree.iterfind(".//title")]
    texts += [h1.text_content() for h1 in list(tree.iter("h1"))[:_MAX_HEADINGS]]
    return {word for text in texts for word in _words(text)}


def _words(text: str | None) -> list[str]:
    return _WORD.findall((text or "").casefold())


def _agrees(title: str | None, shown: set[str]) -> bool:
    """Whether most words of `title` are in the titles the page shows (or it shows none)."""
    words = _words(title)
    if not shown or not words:
        return True
    return sum(word in shown for word in words) >= _TITLE_AGREEMENT * len(words)


def _site_names(
    obj: dict[str, Any] | None, objects: list[dict[str, Any]], declared: str | None, url: str | None
) -> set[str]:
    """The site's names as compared (casefolded words): the article's publisher unless it is a
    Person (a one-person site), the WebSite objects' names, og:site_name, and the host with and
    without its TLD."""
    publisher = obj.get("publisher") if obj else None
    known = _known(objects)
    publishers = [_resolve(p, known) for p in _as_list(publisher)]
    names = [
        _names(p) for p in publishers
        if not (isinstance(p, dict) and "person" in json_ld_types(p))
    ]
    names += [_text(o.get("name")) for o in objects if "website" in json_ld_types(o)]
    host = (urlsplit(url or "").hostname or "").removeprefix("www.")
    names += [declared, host, host.split(".")[0]]
    return {" ".join(_words(name)) for name in names if name} - {""}


def _published_by_person(obj: dict[str, Any] | None, objects: list[dict[str, Any]]) -> bool:
    """Whether the article's publisher is a Person (by type, or by a reference to one, as SEO
    plugins write a one-person site's: ``{"@id": ".../#/schema/person/..."}``)."""
    known = _known(objects)
    for publisher in _as_list(obj.get("publisher") if obj else None):
        if isinstance(publisher, dict):
            reference = publisher.get("@id") if isinstance(publisher.get("@id"), str) else ""
            if "person" in json_ld_types(_resolve(publisher, known)) or "/person/" in reference:
                return True
    return False


def _is_site(value: str, site: set[str]) -> bool:
    return " ".join(_words(value)) in site


def _in_site_name(value: str, site: set[str]) -> bool:
    """Whether `value` (three words or more) is a run of words of a site's name (a slogan or
    the first part of "Noticias de El Salvador - La Prensa Gráfica | Informate con la verdad")."""
    words = " ".join(_words(value))
    return len(words.split()) >= _MIN_SITE_PART and any(
        f" {words} " in f" {name} " for name in site
    )


def _checked_title(
    tree: HtmlElement, site: set[str], sources: tuple[Callable[[], str | None], ...]
) -> str | None:
    """The first title that is not the site's name (nor style sheet text) and that the page
    shows (mostly the same words as its ``<title>`` or ``<h1>``); else the first that is not
    the site's, else the first."""
    shown = visible_title_words(tree)
    titles = [title for title in (source() for source in sources) if title]
    named = [title for title in titles if not _is_site(title, site) and not _CSS.search(title)]
    return next((title for title in named if _agrees(title, shown)), None) or next(
        iter(named or titles), None
    )


def _shown_title(tree: HtmlElement, title: str | None, site: set[str]) -> str | None:
    """The page's ``<h1>`` when the chosen title is that heading with the site's name, a
    section or a kicker as other segments ("Über uns | fairkom", "Kücknitz - So lief ...",
    "Eurostat: Polska ..."), or the heading cut short ("...", a length limit): the headline as
    the reader sees it. Segments are split at spaced dashes, bars, bullets and colons; the
    others must be the site's name or shorter than the heading (a section, not the title)."""
    words = " ".join(_words(title))
    if not title or not words:
        return title
    segments = [" ".join(_words(part)) for part in _TITLE_SEPARATOR.split(title)]
    for h1 in list(tree.iter("h1"))[:_MAX_HEADINGS]:
        heading = " ".join(h1.text_content().split())
        shown = " ".join(_words(heading))
        if not shown or shown == words or _is_site(heading, site):
            continue
        if _is_segment_run(shown, segments, site) or _is_cut(title, words, shown):
            return heading
    return title


def _without_site_affix(title: str | None, site: set[str], url: str | None) -> str | None:
    """The title without the site's name as its first or last segment ("Netzpolitik als
    US-Wahlkampfthema - Netz Für Alle", "BMAS - Änderung der ...", "... · Global Voices auf
    Deutsch") where no heading said which part is the title: a segment is the site's when it
    is one of its names or spells its host ("La Stampa" on lastampa.it)."""
    if not title:
        return title
    labels = _host_labels(url)
    parts = _AFFIX_SEPARATOR.split(title)
    while len(parts) >= 3 and _is_site_segment(parts[-1], site, labels):
        parts = parts[:-2]  # the segment and the separator before it
    while len(parts) >= 3 and _is_site_segment(parts[0], site, labels):
        parts = parts[2:]
    return "".join(parts).strip() or title


def _is_site_segment(segment: str, site: set[str], labels: set[str]) -> bool:
    if _is_site(segment, site):
        return True
    if len(segment.split()) > _MAX_SITE_WORDS:
        return False  # longer: a product or a heading that starts with the site's name
    spelled = _spelled(segment)
    return any(
        spelled.startswith(label) or (len(spelled) >= _MIN_HOST_LABEL and label.startswith(spelled))
        for label in labels
    )


def _host_labels(url: str | None) -> set[str]:
    """The names a host spells its site with, as letters and digits: its first label and its
    registered domain's ("rueda" for rueda.wikidot.com, a hosted site; "dziennik" for
    wiadomosci.dziennik.pl, a section), of 4 characters or more."""
    try:
        host = url_host(url) if url else ""
        domain = registered_domain(host) if "." in host else ""
    except InvalidURL:
        return set()
    names = {host.removeprefix("www.").split(".")[0], domain.split(".")[0]} if domain else set()
    return {label for label in map(_spelled, names) if len(label) >= _MIN_HOST_LABEL}


def _spelled(text: str) -> str:
    """Lower-case letters and digits, umlauts and accents as a host name spells them."""
    text = text.casefold().translate(_UMLAUTS)
    text = unicodedata.normalize("NFKD", text)
    return "".join(char for char in text if char.isascii() and char.isalnum())


def _is_segment_run(shown: str, segments: list[str], site: set[str]) -> bool:
    """Whether `shown` is a run of `segments` and the rest is the site's name or shorter."""
    for first in range(len(segments)):
        for last in range(first + 1, len(segments) + 1):
            if " ".join(s for s in segments[first:last] if s) != shown:
                continue
            rest = " ".join(s for s in segments[:first] + segments[last:] if s)
            spaceless = {name.replace(" ", "") for name in site}
            if rest.replace(" ", "") in spaceless or len(rest) <= len(shown):
                return True
    return False


def _is_cut(title: str, words: str, shown: str) -> bool:
    """The title is the heading cut short: ending in an ellipsis or at a length limit."""
    cut = title.rstrip().endswith(("...", "…")) or len(title) >= _CUT_LENGTH
    return cut and shown.startswith(f"{words} ")


def _checked_author(
    site: set[str], sources: tuple[Callable[[], str | None], ...], blog: bool = False
) -> str | None:
    """The first author left when the names that are not a person's are dropped: the site (its
    name or host), a web address, a company or association ("... GmbH", "Verein ..."), a
    placeholder ("Unknown"); byline labels ("Por", "Auteur", "Beitrag von") are cut. A value
    that starts with the site's name or a company fails whole (what follows is its address:
    "SPIEGEL ONLINE, Hamburg, Germany"). On a `blog` (its publisher a Person), the author
    JSON-LD declares a Person (the first source) may bear the site's name. A user name
    ("Arianschlichenmayer") yields to a later source that writes it with spaces."""
    for number, source in enumerate(sources):
        author = source()
        if number == 0 and author and blog:
            return author
        names = [_unlabelled(name) for name in (author or "").split("; ")]
        names = [name for name in names if len(name) > 1]
        if not names or _is_site(names[0], site) or _ORGANIZATION.search(names[0]):
            continue
        kept = [name for name in names if _is_person(name, site)]
        if kept:
            return _spelled_out(kept, sources[number + 1 :]) or "; ".join(kept)
    return None


def _spelled_out(kept: list[str], later: tuple[Callable[[], str | None], ...]) -> str | None:
    """The name a later source writes with spaces where `kept` is one user name."""
    if len(kept) != 1 or " " in kept[0]:
        return None
    for source in later:
        for name in (source() or "").split("; "):
            name = _unlabelled(name)
            if " " in name and "".join(_words(name)) == "".join(_words(kept[0])):
                return name
    return None


def _unlabelled(name: str) -> str:
    """The name without a byline's label before it ("By", "Por", "Auteur", "Text")."""
    return _BYLINE_PREFIX.sub("", name.strip()).strip()


def _is_person(name: str, site: set[str]) -> bool:
    return not (
        _is_site(name, site) or _in_site_name(name, site) or _WEB.search(name)
        or _ORGANIZATION.search(name)
        or name.casefold() in _PLACEHOLDERS or not _NAME_START.match(name)
    )  # fmt: skip


def _checked_date(
    tree: HtmlElement, dates: list[str | None], latest: datetime, shown: bool = True
) -> str | None:
    """The first plausible date (from 1990 to the capture); when declared dates disagree, the
    one the page's header shows in a ``<time datetime>`` (`shown`)."""
    plausible = [date for date in dates if date and not _later(date, latest)]
    if shown and len({date[:10] for date in plausible}) > 1:
        visible = _header_dates(tree)
        agreeing = [date for date in plausible if date[:10] in visible]
        if agreeing:
            return agreeing[0]
    return plausible[0] if plausible else None


def _local(tree: HtmlElement, date: str | None) -> str | None:
    """The date as the page's ``<time datetime>`` writes the same instant in another offset:
    CMSs declare the time in UTC (WordPress's article:published_time) where the page shows its
    local day and time ("2022-05-04T03:37:37+00:00" shown as "3 May, 23:37", -04:00)."""
    moment = datetime.fromisoformat(date) if date and len(date) > 10 else None
    if moment is None or moment.utcoffset() != timedelta(0):
        return date
    for elem in list(tree.iter("time"))[:_MAX_TIMES]:
        written = iso_datetime(elem.get("datetime"))
        if written and len(written) > 10 and written != date:
            shown = datetime.fromisoformat(written)
            if shown.utcoffset() not in (None, timedelta(0)) and shown == moment:
                return written
    return date


def _dates(first: str | None, metas: dict[str, list[str]], keys: tuple[str, ...]) -> list[str]:
    """`first` (JSON-LD's), then the meta tags' dates in the order of `keys`, as ISO dates."""
    declared = (iso_datetime(value) for key in keys for value in metas.get(key, ()))
    return [date for date in (first, *declared) if date]


def _later(date: str, latest: datetime) -> bool:
    moment = datetime.fromisoformat(date)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment > latest + _DATE_SLACK


def _header_dates(tree: HtmlElement, ordered: bool = False) -> set[Any]:
    """The days of the ``<time datetime>`` elements in the article's header: the first
    ``<article>`` (else the page) up to its first paragraph of text; `ordered`: (position,
    date) pairs of the whole dates instead."""
    scope = next(tree.iter("article"), None)
    days: set[Any] = set()
    for number, elem in enumerate((scope if scope is not None else tree).iter("time", "p")):
        if elem.tag == "p" and len(elem.text_content()) > _HEADER_END:
            break
        date = iso_datetime(elem.get("datetime")) if elem.tag == "time" else None
        if date and not _in_comment(elem):
            days.add((number, date) if ordered else date[:10])
    return days


def _header_time(tree: HtmlElement, latest: datetime) -> str | None:
    """The first ``<time datetime>`` of the article's header (as `_header_dates` scopes it)
    where the page declares no date: the date line's own markup (htmldate prefers a declared
    modified date to it)."""
    dates = sorted(_header_dates(tree, ordered=True))
    return next((date for _, date in dates if not _later(date, latest)), None)


def _in_comment(elem: HtmlElement) -> bool:
    return any("comment" in (node.get("class") or "") for node in elem.iterancestors())


def _date_line(tree: HtmlElement, latest: datetime) -> str | None:
    """A date written as text just after the headline (the first ``<h1>`` with text): the
    date line a reader sees ("01. November 2021 | Naturschutz", "24. März 2004, 19:49"), read
    by htmldate's date expressions without its external parser (dateparser costs a second a
    language on first use), each of the first short text pieces after the heading on its
    own; dotted dates day-first."""
    heading = next((h1 for h1 in tree.iter("h1") if h1.text_content().strip()), None)
    if heading is None:
        return None
    for number, text in enumerate(_texts_after(heading)):
        if number >= _DATE_LINE_PIECES:
            break
        text = _SPACED_DOTS.sub(r"\1.", " ".join(text.split()))  # "4. 2. 2022" -> "4.2.2022"
        if len(text) <= _DATE_LINE_LENGTH and _YEAR.search(text):
            dotted = _DOTTED.search(text)  # day first, as the sites writing it mean it
            found = (
                _date_only(dotted[0])
                if dotted
                else try_date_expr(text, "%Y-%m-%d", False, _EARLIEST, latest.replace(tzinfo=None))
            )
            if found and not _later(found, latest):
                return iso_datetime(found)
    return None


def _texts_after(heading: HtmlElement) -> Iterator[str]:
    """The text pieces after `heading` in document order (not its own, nor scripts')."""
    inside = set(heading.iter())
    started = False
    for elem in heading.getroottree().getroot().iter():
        if elem is heading:
            started = True
        if not started or elem.tag in ("script", "style"):
            continue
        own = elem.text if elem not in inside and isinstance(elem.tag, str) else None
        tail = elem.tail if elem is heading or elem not in inside else None
        for text in (own, tail):
            if text and text.strip():
                yield text.strip()


def _labelled_date(tree: HtmlElement, latest: datetime) -> str | None:
    """A date the article's text writes after a publication label ("Opublikowano: 2021-04-29
    17:13", "Veröffentlicht am 12.11.2021", "Publicado el ..."), in ISO or dotted form, in
    the first text of the ``<article>`` (else the body): what a reader sees where the page
    declares no date (htmldate would take a print or a modified date first)."""
    scope = next(tree.iter("article"), None)
    if scope is None:
        scope = next(tree.iter("body"), tree)
    text = " ".join(_visible_text(scope)[:_LABEL_SCAN])
    for match in _PUBLISHED_LABEL.finditer(text):
        date = iso_datetime(match["date"])
        if date and not _later(date, latest):
            return date
    return None


def _visible_text(scope: HtmlElement) -> list[str]:
    texts, size = [], 0
    for elem in scope.iter():
        if not isinstance(elem.tag, str) or elem.tag in ("script", "style", "noscript"):
            continue
        for text in (elem.text, elem.tail):
            if text and text.strip():
                texts.append(text.strip())
                size += len(text)
        if size > _LABEL_SCAN:
            break
    return texts


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
    """trafilatura's extract_author without its copy of the tree: its author XPaths in order
    (the specific one by lxml's tag filter, see below), a byline inside what it would prune
    (comments, sidebars, dates, figures) skipped."""
    discarded: set[HtmlElement] | None = None
    for found in _byline_searches(tree):
        for elem in found:
            content = trim(" ".join(elem.itertext()))
            if not content or not 2 < len(content) < 120 or _CREDIT.match(content):
                continue
            if _in_site_credits(elem):
                continue
            if discarded is None:
                discarded = {hit for expr in AUTHOR_DISCARD_XPATHS for hit in expr(tree)}
            author = (
                None if _discarded(elem, discarded)
                else _with_initials(normalize_authors(None, content), content)
            )  # fmt: skip
            if author and not _LABEL.match(author):
                return author
    return None


def _in_site_credits(elem: HtmlElement) -> bool:
    """Inside the site's credits ("Theme: X by <span class=theme-author>Y</span>", "Powered
    by", the copyright line): the author of a theme or a site, not of the article."""
    for node in (elem, *elem.iterancestors()):
        if any(_SITE_CREDITS.fullmatch(name) for name in (node.get("class") or "").split()):
            return True
    return False


def _page_author(objects: list[dict[str, Any]], url: str | None) -> str | None:
    """The author of the page's own WebPage object (by reference too), else the one Person
    object of the page's JSON-LD (how SEO plugins describe a post's author)."""
    for obj in objects:
        if "author" in obj and _names_page(obj, url):
            author = _authors(_with_references(obj, objects).get("author"))
            if author:
                return author
    people = [obj for obj in objects if json_ld_types(obj) == {"person"} and obj.get("name")]
    return _authors(people[0]) if len(people) == 1 else None


def _byline_searches(tree: HtmlElement) -> Iterator[list[HtmlElement]]:
    """The elements of trafilatura's author XPaths, one list per XPath in its order, and last
    those of class "autor" (German, Spanish, Portuguese, Polish...), which its patterns miss.
    The generic ones are found in one pass by lxml and Python's re (cheaper than libxml2's
    XPath with EXSLT regular expressions), and only when the specific one finds nothing."""
    yield _byline_candidates(tree)
    generic: list[HtmlElement] = []
    last_resort: list[HtmlElement] = []
    autor: list[HtmlElement] = []
    for elem in tree.iter():
        attributes = elem.attrib
        if not attributes or not isinstance(elem.tag, str):
            continue
        css, ident = attributes.get("class") or "", attributes.get("id") or ""
        itemprop = attributes.get("itemprop") or ""
        if elem.tag in _GENERIC_TAGS and (
            css in _GENERIC_CLASSES or "author" in itemprop
            or _GENERIC_ID.search(ident) or _GENERIC_CLASS.search(css)
        ):  # fmt: skip
            generic.append(elem)
        if (
            "Byline" in (attributes.get("data-component") or "") or "author" in itemprop
            or _LAST_ID.search(ident) or _LAST_CLASS.search(css)
        ):  # fmt: skip
            last_resort.append(elem)
        if elem.tag in _BYLINE_TAGS and _AUTOR_CLASS.search(css):
            autor.append(elem)
    yield generic
    yield last_resort
    yield autor


def _discarded(elem: HtmlElement, discarded: set[HtmlElement]) -> bool:
    """Inside what trafilatura prunes, or in a form or a comment (a comment form's name
    field, a commenter's name)."""
    for node in (elem, *elem.iterancestors()):
        if node in discarded or node.tag == "form" or "comment" in (node.get("class") or ""):
            return True
    return False


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
