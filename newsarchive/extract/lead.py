"""The article's lead (standfirst, teaser, chapo): the paragraph under the headline that many
sites set apart from the body's container, so trafilatura, which keeps one container, drops it.

A lead is found before trafilatura prunes the tree, by two signs seen on many sites
(docs/quality.md): an element whose text is the page's own description (``og:description`` /
``description``, often the lead word for word or cut short), or one element whose class names
it a lead (``lead``, ``intro``, ``teaser``, ``standfirst``, ``chapo``...). It is put before the
text only when the text does not already hold it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from newsarchive.extract.boilerplate import strip_boilerplate

if TYPE_CHECKING:
    from lxml.html import HtmlElement

MIN_LEAD = 60  # characters: shorter "leads" are labels, bylines or kickers
MAX_LEAD = 1200  # characters: longer is a body, not a lead
HOLDER_LEVELS = 4  # levels up from a text node where the element showing a lead may be
NEAR_HEADLINE = 4  # levels up from the headline where its lead's container may start
_CANDIDATE_TAGS = ("p", "div", "section", "span", "strong", "h2", "header")
_LEAD_CLASS = re.compile(
    r"(?:^|[-_\s])(?:lead|lede|intro|teaser|standfirst|chapo|excerpt|summary|preface|"
    r"deck|dek|sapo|entradilla|bajada|abstract|subline|subtitle)(?:$|[-_\s])",
    re.I,
)
_OUTSIDE = frozenset(
    {"nav", "footer", "aside", "a", "li", "form", "button", "figure", "figcaption", "label"}
)
_NOT_IN_LEAD = ("a", "img", "script", "style", "iframe", "button", "input")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_CUT_SHORT = re.compile(r"\s*(?:\.\.\.|…|\[…\]|\[\.\.\.\])\s*$")


def find_lead(tree: HtmlElement, description: str | None) -> str | None:
    """The page's lead as it is shown, or None."""
    return _described(tree, description) or _classed(tree)


def with_lead(text: str, lead: str | None, title: str | None = None) -> str:
    """`text` with the lead as its first paragraph (after `title` when the text starts with
    it: the article's ``<h1>`` kept as its first line), unless it holds it already."""
    if not lead or not text:
        return text
    if _squashed(lead)[:MIN_LEAD] in _squashed(text) or not strip_boilerplate(lead):
        return text
    first, _, rest = text.partition("\n")
    if title and rest and first.strip() == title:
        return f"{first}\n{lead}\n{rest}"
    return f"{lead}\n{text}"


def _described(tree: HtmlElement, description: str | None) -> str | None:
    """The shown text closest in length to the description that starts as it does."""
    wanted = _squashed(_CUT_SHORT.sub("", description or ""))
    if len(wanted) < MIN_LEAD:
        return None
    best, distance = None, MAX_LEAD
    for element in _holders(tree, description or ""):
        shown = _squashed(element.text_content())
        if not MIN_LEAD <= len(shown) <= MAX_LEAD:
            continue
        if (shown.startswith(wanted) or wanted.startswith(shown)) and abs(
            len(shown) - len(wanted)
        ) <= distance:
            best, distance = element, abs(len(shown) - len(wanted))
    return _shown(best) if best is not None and _may_be_lead(best) else None


def _holders(tree: HtmlElement, description: str) -> Iterator[HtmlElement]:
    """Elements of the candidate tags around the text nodes that hold the description's
    longest first word (found by libxml2, a cheap filter before whole texts are compared)."""
    key = max(description.split()[:4], key=len)
    seen: set[HtmlElement] = set()
    for text in tree.xpath("//body//text()[contains(., $key)]", key=key):
        element = text.getparent()
        if text.is_tail:
            element = element.getparent()
        for _ in range(HOLDER_LEVELS):
            if element is None or element in seen:
                break
            seen.add(element)
            if element.tag in _CANDIDATE_TAGS:
                yield element
            element = element.getparent()


def _classed(tree: HtmlElement) -> str | None:
    """The one element under the headline whose class names it a lead (none if several)."""
    near = _near_headline(tree)
    if not near:
        return None
    matches = [
        element
        for element in tree.iter(*_CANDIDATE_TAGS)
        if _LEAD_CLASS.search(element.get("class") or "")
        and (element in near or any(a in near for a in element.iterancestors()))
        and MIN_LEAD <= len(_squashed(element.text_content())) <= MAX_LEAD
        and _may_be_lead(element)
    ]
    outermost = [m for m in matches if not any(o is not m and _contains(o, m) for o in matches)]
    return _shown(outermost[0]) if len(outermost) == 1 else None


def _near_headline(tree: HtmlElement) -> set[HtmlElement]:
    """What follows the first ``<h1>`` within a few levels of it: its siblings and those of its
    nearest ancestors (a lead's container starts there)."""
    headline = tree.find(".//h1")
    if headline is None:
        return set()
    near = set(headline.itersiblings())
    for depth, ancestor in enumerate(headline.iterancestors()):
        if depth >= NEAR_HEADLINE:
            break
        near.update(ancestor.itersiblings())
    return near


def _may_be_lead(element: HtmlElement) -> bool:
    """Not inside navigation and the like, and holding only text."""
    return not any(_is_aside(a) for a in element.iterancestors()) and not _holds_other_content(
        element
    )


def _is_aside(element: HtmlElement) -> bool:
    """Navigation, footers, asides, links, forms, figures: not where a page's lead is shown."""
    return element.tag in _OUTSIDE


def _holds_other_content(element: HtmlElement) -> bool:
    """Links, images, scripts: a teaser box, a picture's caption, an ad slot; not a lead."""
    return any(element.find(f".//{tag}") is not None for tag in _NOT_IN_LEAD)


def _contains(outer: HtmlElement, inner: HtmlElement) -> bool:
    return any(a is outer for a in inner.iterancestors())


def _shown(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _squashed(text: str) -> str:
    """Compared as shown: case, whitespace and invisible characters (soft hyphens, zero-width
    spaces) aside."""
    return " ".join(text.translate(_INVISIBLE).split()).casefold()
