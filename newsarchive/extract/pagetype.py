"""What kind of page this is: an ``article``, a ``listing`` (a home, section, tag, author or
archive page: teasers linking to articles) or ``other`` (contact, about, search, error pages, a
script shell with no text), and whether its text needs scripts to show (docs/jsonl.md).

Judged on the parsed page before extraction, from what it declares (JSON-LD ``@type``,
``og:type``), the shape of its URL and its structure: how many words it has in paragraphs of
prose, against how many headline links to other pages of its site. Declarations are often wrong
or generic (every page an ``og:type`` of ``website``), so none decides alone, except that a page
with a long run of prose is an article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement

ARTICLE, LISTING, OTHER = "article", "listing", "other"
HOME, SECTION = "home", "section"  # url kinds: the site's front page, a one-word path

LISTING_TYPES = frozenset({"collectionpage", "itemlist", "searchresultspage", "profilepage"})
OTHER_TYPES = frozenset({"aboutpage", "contactpage", "checkoutpage", "faqpage", "qapage"})
# a path segment naming a page that lists articles (/tag/x/, /category/x, /author/jane/)
LISTING_SEGMENTS = frozenset(
    {"tag", "tags", "category", "categories", "section", "sections", "author", "authors",
     "topic", "topics", "archive", "archives", "schlagwort", "thema", "themen", "rubrik",
     "autor", "autoren", "kategorie", "categorie", "categoria", "etiqueta", "tema"}
)  # fmt: skip
OTHER_SEGMENTS = frozenset(
    {"about", "about-us", "contact", "contact-us", "impressum", "imprint", "kontakt", "privacy",
     "privacy-policy", "datenschutz", "terms", "login", "signin", "register", "search", "suche",
     "subscribe", "newsletter", "404", "error"}
)  # fmt: skip
_LANGUAGE_PREFIX = re.compile(r"[a-z]{2}(?:[-_][a-z]{2})?")
_PAGE_NUMBER = re.compile(r"(?:^|/)page/\d+/?$|(?:^|[?&])(?:page|paged)=\d+", re.I)
_BLOCKS = ("p", "div", "td", "li", "dd", "blockquote", "section", "article", "main", "pre")
_INLINE = frozenset(
    {"span", "b", "strong", "i", "em", "u", "font", "small", "sup", "sub", "mark", "abbr",
     "time", "q", "cite", "br", "code", "s", "del", "ins"}
)  # fmt: skip
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_TEASER_PARENTS = frozenset({*_HEADINGS, "article"})
_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "head"})
_OUTSIDE = frozenset({"nav", "header", "footer", "aside", "form", "menu"})
_APP_ROOTS = frozenset({"root", "app", "__next", "__nuxt", "___gatsby", "main-app", "svelte"})
_NEEDS_SCRIPT = re.compile(r"javascript|\bjs\b|enable (?:scripts|js)", re.I)
_LOADING = re.compile(r"^\W*(?:loading|wird geladen|chargement|cargando)\W*$", re.I)

PROSE_PARAGRAPH = 20  # words: a paragraph at least this long is prose, not a teaser or a label
ARTICLE_PROSE = 300  # words of prose that make a page an article whatever it declares
HEADLINE_WORDS = 4  # words of link text that look like a headline
SCRIPT_SHELL_WORDS = 50  # a script shell shows fewer words than this without scripts


@dataclass(frozen=True)
class PageSignals:
    """What the page type is judged on."""

    declared: str | None  # ARTICLE, LISTING or OTHER by JSON-LD @type / og:type, or None
    url_kind: str | None  # HOME, SECTION, LISTING (tag, author, page 2...), OTHER, or None
    prose_words: int  # words of prose paragraphs in the container holding the most
    headlines: int  # distinct same-site links with headline-like text (main content)
    teasers: int  # of them, links in or around a heading or inside an <article>
    visible_words: int | None  # words a reader sees without scripts (pages with little prose)
    # fewer than SCRIPT_SHELL_WORDS visible words, and an empty app root, a "Loading…" or a
    # noscript asking for JavaScript
    script_shell: bool


@dataclass(frozen=True)
class PageType:
    page_type: str
    needs_scripts: bool  # the text is rendered by scripts: the capture lacks it


def page_signals(
    tree: HtmlElement, url: str, objects: list[dict] | None = None
) -> PageSignals:
    """The signals of a parsed page (the tree is not modified); `objects`: its JSON-LD objects,
    if already read."""
    body = tree.find("body")
    body = body if body is not None else next(iter(tree.iterfind(".//body")), tree)
    prose = _prose_words(body)
    # a page with prose shows it without scripts: the rest is counted for the others only
    visible = _visible_words(body) if prose < SCRIPT_SHELL_WORDS else None
    return PageSignals(
        declared=_declared(tree, objects),
        url_kind=url_kind(url),
        prose_words=prose,
        **_headlines(body, url),
        visible_words=visible,
        script_shell=visible is not None and visible < SCRIPT_SHELL_WORDS and _script_shell(body),
    )


def classify(signals: PageSignals) -> PageType:
    """The page type the signals point to (module docstring)."""
    return PageType(_kind(signals, signals.script_shell), signals.script_shell)


def page_type(tree: HtmlElement, url: str, objects: list[dict] | None = None) -> PageType:
    return classify(page_signals(tree, url, objects))


def _kind(s: PageSignals, needs_scripts: bool) -> str:
    """The first rule that applies (docs/jsonl.md lists them in this order)."""
    if needs_scripts:
        return ARTICLE if s.declared == ARTICLE else OTHER
    if s.url_kind == OTHER and s.declared != ARTICLE:  # an imprint is prose, not an article
        return OTHER
    if s.prose_words >= ARTICLE_PROSE and not (s.declared == LISTING and s.headlines >= 5):
        return ARTICLE
    if s.declared == ARTICLE:  # unless its URL and its teasers say otherwise
        listed = s.url_kind == LISTING and s.teasers >= 6 and s.prose_words < 100
        return LISTING if listed else ARTICLE
    if s.url_kind == HOME:  # a home page with no headline links (a company's) lists nothing
        return LISTING if s.headlines >= 2 else OTHER
    if s.url_kind == SECTION:  # a one-word path is weaker evidence: /enchufla on a wiki
        return LISTING if s.headlines >= 2 or s.prose_words < 100 else ARTICLE
    if s.url_kind == LISTING or s.declared == LISTING:
        return LISTING
    if s.declared == OTHER:
        return OTHER
    if s.teasers >= 8 and s.prose_words < 50:  # teasers and no prose, whatever the URL
        return LISTING
    return ARTICLE


def url_kind(url: str) -> str | None:
    """HOME for a site's front page; SECTION for a one-word path (/world/); LISTING for tag,
    category, author and archive pages and page 2 of anything; OTHER for about, contact,
    search, login...; else None."""
    parts = urlsplit(url)
    segments = [s.lower() for s in parts.path.split("/") if s]
    if segments and re.fullmatch(r"index\.\w+|default\.\w+", segments[-1]):
        segments.pop()
    if all(_LANGUAGE_PREFIX.fullmatch(s) for s in segments) and not parts.query:
        return HOME  # /, /index.html, /en/, /de-ch/

    if _PAGE_NUMBER.search(parts.path) or _PAGE_NUMBER.search(parts.query):
        return LISTING
    stems = [s.rsplit(".", 1)[0] for s in segments]
    if any(s in LISTING_SEGMENTS for s in stems[-2:]):  # /tag/, /tag/harbour/
        return LISTING
    if len(segments) == 1 and segments[0].isalpha() and segments[0] not in OTHER_SEGMENTS:
        return SECTION  # /world/, /politik (an article's path has a slug or an id)
    if stems and stems[-1] in OTHER_SEGMENTS or (stems and stems[0] in OTHER_SEGMENTS):
        return OTHER
    return None


def _declared(tree: HtmlElement, objects: list[dict] | None) -> str | None:
    # trafilatura (imported by metadata) is loaded where pages are extracted, not in the crawl
    from newsarchive.extract.metadata import ARTICLE_TYPES, json_ld_objects, json_ld_types

    kinds: set[str] = set()
    for obj in json_ld_objects(tree) if objects is None else objects:
        kinds |= json_ld_types(obj)
    if kinds & ARTICLE_TYPES:
        return ARTICLE
    og = _og_type(tree)
    if og == "article":
        return ARTICLE
    if kinds & LISTING_TYPES:
        return LISTING
    if kinds & OTHER_TYPES:
        return OTHER
    return None


def _og_type(tree: HtmlElement) -> str | None:
    for meta in tree.iterfind(".//meta[@content]"):
        if (meta.get("property") or meta.get("name") or "").strip().lower() == "og:type":
            return meta.get("content", "").strip().lower().split(".")[0]
    return None


def _outside(elem: HtmlElement) -> bool:
    """Inside navigation, a header, footer, sidebar or form: not the page's main content."""
    return any(parent.tag in _OUTSIDE for parent in elem.iterancestors())


def _prose_words(body: HtmlElement) -> int:
    """Words of prose in the page's main text: in the element (parent, or grandparent when the
    blocks are wrapped one by one) holding the most. A block's prose is its own text and that
    of its inline children, links left out; a block of at least PROSE_PARAGRAPH words counts
    (text in ``<div>``s with ``<br>``s too). A teaser's summary (beside a heading link) counts
    in its own box only, so a front page's summaries do not add up to an article."""
    held: dict[HtmlElement, int] = {}
    teaser_boxes: dict[HtmlElement, bool] = {}
    for block in body.iter(*_BLOCKS):
        words = _own_words(block)
        parent = block.getparent()
        if words < PROSE_PARAGRAPH or parent is None or _outside(block):
            continue
        held[parent] = held.get(parent, 0) + words
        grandparent = parent.getparent()
        if grandparent is None:
            continue
        if parent not in teaser_boxes:
            teaser_boxes[parent] = _has_heading_link(parent)
        if not teaser_boxes[parent]:
            held[grandparent] = held.get(grandparent, 0) + words
    return max(held.values(), default=0)


def _has_heading_link(box: HtmlElement) -> bool:
    """A heading with a link, or a link around a heading, among the box's children: a teaser."""
    for child in box.iterchildren(*_HEADINGS, "a"):
        if child.tag == "a":
            if any(True for _ in child.iter(*_HEADINGS)):
                return True
        elif child.find(".//a") is not None:
            return True
    return False


def _visible_words(body: HtmlElement) -> int:
    """Words a reader sees without scripts: the body's, less those of its scripts, styles,
    noscripts and templates."""
    hidden = sum(_count(elem.text_content()) for elem in body.iter(*_SKIPPED) if elem is not body)
    return max(0, _count(body.text_content()) - hidden)


def _own_words(block: HtmlElement) -> int:
    """Words of a block's own text and of its inline children (not of links, nor blocks)."""
    words = len(block.text.split()) if block.text else 0
    for child in block:
        if child.tag in _INLINE:
            words += _own_words(child)
        if child.tail:
            words += len(child.tail.split())
    return words


def _headlines(body: HtmlElement, url: str) -> dict[str, int]:
    """Distinct links to other pages of the same site whose text reads like a headline
    (``headlines``), and of them those in or around a heading or in an ``<article>``
    (``teasers``: a listing's repeated teaser blocks, where a menu's links are not)."""
    host, own = urlsplit(url).hostname, urlsplit(url).path
    headlines: set[str] = set()
    teasers: set[str] = set()
    for link in body.iter("a"):
        href = (link.get("href") or "").strip()
        if not href or href[0] == "#" or _count(link.text_content()) < HEADLINE_WORDS:
            continue
        path = _same_site_path(href, url, host)
        if path is None or path.strip("/") in ("", own.strip("/")) or _outside(link):
            continue
        headlines.add(path)
        if _in_teaser(link):
            teasers.add(path)
    return {"headlines": len(headlines), "teasers": len(teasers)}


def _same_site_path(href: str, url: str, host: str | None) -> str | None:
    """The path `href` leads to on the site of `url`, or None (another site, malformed)."""
    if href[0] == "/" and not href.startswith("//"):  # the common case, without urljoin
        return href.split("#", 1)[0].split("?", 1)[0]
    try:
        target = urlsplit(urljoin(url, href))
    except ValueError:  # a malformed href ("http://[x]/")
        return None
    return target.path if target.hostname == host else None


def _in_teaser(link: HtmlElement) -> bool:
    if any(True for _ in link.iter(*_HEADINGS)):
        return True
    return any(parent.tag in _TEASER_PARENTS for parent in link.iterancestors())


def _script_shell(body: HtmlElement) -> bool:
    for elem in body.iter("div", "main", "section", "app-root"):
        if (elem.get("id") or "").lower() in _APP_ROOTS or elem.tag == "app-root":
            if not _count(elem.text_content()):
                return True
    for noscript in body.iter("noscript"):
        if _NEEDS_SCRIPT.search(noscript.text_content() or ""):
            return True
    return any(elem.text and _LOADING.match(elem.text) for elem in body.iter())


def _count(text: str | None) -> int:
    return len(text.split()) if text else 0
