"""Page analysis and cleaned-copy extraction: parse a decoded HTML page once, and find its
links, its requisites and its cleaned text (trafilatura) in that one tree.

`analyse_page` (and `extract_page`, extraction alone) are plain top-level functions (picklable,
no shared state) that never raise: every failure becomes the ``extraction_error`` of the result.
They run in the extraction workers (:mod:`newsarchive.extract.workers`).
"""

from __future__ import annotations

import logging
import math
import re
import signal
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from w3lib.html import get_base_url

from newsarchive.base.digests import sha1_digest
from newsarchive.base.mediatypes import is_html, mime_type
from newsarchive.compat.trafilatura import DEFAULT_TUNING, Tuning, handed_over, tuned
from newsarchive.extract.boilerplate import strip_boilerplate
from newsarchive.extract.decoding import decode_html
from newsarchive.extract.lead import find_lead, with_lead
from newsarchive.extract.links import links_in_tree
from newsarchive.extract.requisites import requisites_in_tree

if TYPE_CHECKING:
    from lxml.html import HtmlElement

    from newsarchive.extract.metadata import Metadata

logger = logging.getLogger(__name__)

MIN_DETECTABLE = 200  # characters of text below which its language is not guessed
DETECTED_SAMPLE = 5000  # characters of text the language is guessed from
MIN_OVERRIDING = 1000  # characters of text from which a sure detection beats a declaration
CHECKED_SAMPLE = 1500  # characters a declared language is first checked on (cost is per char)
SURE_DETECTION = 0.999  # probability of the detected language that overrides the declared one

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_LANGUAGE_METAS = frozenset({"content-language", "og:locale", "language", "dc.language"})


# --- extraction ------------------------------------------------------------------------------


class PageTimeout(BaseException):
    """Raised by SIGALRM when a page runs past its time limit.

    A BaseException so that the ``except Exception`` blocks inside trafilatura and lxml
    wrappers cannot swallow it.
    """


@dataclass(frozen=True)
class PageJob:
    """One fetched page to decode and parse once, and what to find in it."""

    body: bytes
    url: str  # the page's own URL (after redirects): the base of its links
    content_type: str | None
    extract: bool = True  # the cleaned copy (extraction fields)
    include_html: bool = False
    links: bool = False  # the links the spider may follow (newsarchive.extract.links)
    related_titles: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    requisites: bool = False  # what the page loads to display (newsarchive.extract.requisites)


@dataclass
class PageAnalysis:
    """What a :class:`PageJob` asked for. ``None`` where it was not asked for or could not be
    found (the caller then finds links and requisites itself)."""

    extraction: dict[str, Any] | None = None
    links: list[tuple[str, str]] | None = None  # (url, via) in newsarchive.extract.links' order
    unmatched_titles: list[str] = field(default_factory=list)
    requisites: list[str] | None = None


def extract_page(
    body: bytes,
    url: str,
    content_type: str | None,
    *,
    include_html: bool = False,
    time_limit: float | None = None,
    tuning: Tuning = DEFAULT_TUNING,
) -> dict[str, Any]:
    """Decode and extract one page; return the JSONL extraction fields. Never raises.

    Keys: title, author, published, modified, language, sitename, description, categories,
    tags, canonical_url, text, markdown, word_count, images, access, page_type,
    extraction_warning, extraction_error, text_digest, encoding, and html if include_html
    (docs/jsonl.md).
    ``time_limit`` (seconds, main thread only) interrupts decoding and extraction via SIGALRM.
    ``tuning``: how trafilatura runs (newsarchive.compat.trafilatura).
    """
    job = PageJob(body, url, content_type, include_html=include_html)
    extraction = analyse_page(job, time_limit, tuning).extraction
    assert extraction is not None
    return extraction


def analyse_page(
    job: PageJob, time_limit: float | None = None, tuning: Tuning = DEFAULT_TUNING
) -> PageAnalysis:
    """Decode and parse `job`'s page once and find what it asks for. Never raises: extraction
    failures become its ``extraction_error``; links and requisites not found stay None."""
    analysis = PageAnalysis(extraction=_blank_result(job.include_html) if job.extract else None)
    result = analysis.extraction if analysis.extraction is not None else {}
    try:
        _analyse(job, analysis, result, time_limit, tuning)
    except PageTimeout:
        result["extraction_error"] = f"timed out after {time_limit:g}s"
    except Exception as exc:  # contract: every failure becomes a reason string
        result["extraction_error"] = _describe(exc)
    if analysis.extraction is not None:
        result["text_digest"] = sha1_digest(result["text"].encode("utf-8", "replace"))
    return analysis


def _analyse(
    job: PageJob,
    analysis: PageAnalysis,
    result: dict[str, Any],
    time_limit: float | None,
    tuning: Tuning,
) -> None:
    if not is_html(job.content_type, job.body):
        result["extraction_error"] = not_html_error(job.content_type)
        return
    with _time_limit(time_limit):
        html, result["encoding"] = decode_html(job.body, job.content_type)
        if job.include_html:
            result["html"] = html
        tree = parse_html(html, tuning)
        if tree is not None and (job.links or job.requisites):
            _find_links(job, analysis, tree, get_base_url(html[:4096], job.url))
        if job.extract:
            if tree is None:
                result["extraction_error"] = "not parseable as HTML"
            else:
                result.update(fields_from_tree(tree, job.url, tuning))


def _find_links(job: PageJob, analysis: PageAnalysis, tree: HtmlElement, base: str) -> None:
    if job.links:
        found = links_in_tree(tree, base, job.url, job.related_titles, job.allowed_domains)
        analysis.links = [(link.url, link.via) for link in found.links]
        analysis.unmatched_titles = found.unmatched_titles
    if job.requisites:
        analysis.requisites = requisites_in_tree(tree, base)


def _blank_result(include_html: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "title": None,
        "author": None,
        "published": None,
        "language": None,
        "sitename": None,
        "description": None,
        "categories": [],
        "tags": [],
        "canonical_url": None,
        "modified": None,
        "text": "",
        "markdown": "",
        "word_count": 0,
        "images": [],
        "access": None,
        "page_type": None,
        "extraction_warning": None,
        "extraction_error": None,
        "text_digest": sha1_digest(b""),
        "encoding": None,
    }
    if include_html:
        result["html"] = None
    return result


def not_html_error(content_type: str | bytes | None) -> str:
    """The extraction_error of a body that is not HTML."""
    return f"not HTML ({mime_type(content_type) or 'no content type'})"


def _describe(exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    reason = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return reason[:200]


def parse_html(html: str, tuning: Tuning = DEFAULT_TUNING) -> HtmlElement | None:
    """The lxml tree of a decoded page, parsed as trafilatura parses it (None if not HTML)."""
    from trafilatura.utils import load_html  # trafilatura is loaded where pages are extracted

    with tuned(tuning):  # its parser, with lxml's C-level element lookup
        # A leftover XML declaration makes lxml re-read the str as bytes in the declared charset.
        return load_html(_XML_DECLARATION.sub("", html, count=1))


def fields_from_tree(
    tree: HtmlElement, url: str, tuning: Tuning = DEFAULT_TUNING
) -> dict[str, Any]:
    """The extraction fields of a parsed page. Its tree is used up: trafilatura prunes it."""
    with tuned(tuning):  # the readability policy and the speed changes (docs/quality.md)
        return _fields(tree, url)


def _fields(tree: HtmlElement, url: str) -> dict[str, Any]:
    from trafilatura import bare_extraction
    from trafilatura.settings import Document
    from trafilatura.xml import xmltotxt

    from newsarchive.extract.metadata import (
        SCRIPTED,
        access,
        json_ld_objects,
        page_images,
        page_metadata,
    )
    from newsarchive.extract.pagetype import ARTICLE, page_type

    canonical, language = _declared_canonical(tree, url), _declared_language(tree)
    objects = list(json_ld_objects(tree))  # read once, for the page type and the metadata
    kind = page_type(tree, url, objects)  # on the whole page, before trafilatura prunes it
    meta = page_metadata(tree, url, guess_date=kind.page_type == ARTICLE, objects=objects)
    fields = _metadata_fields(meta, url, canonical, language)
    fields["page_type"] = kind.page_type
    fields["images"] = page_images(tree, url, meta)
    lead = find_lead(tree, meta.description)  # before trafilatura prunes the tree
    # bare_extraction's metadata step (htmldate's extensive search) is the slow part, replaced
    # by newsarchive.extract.metadata. Links, formatting and images left out: keeping them changes
    # which text trafilatura picks (docs/quality.md).
    with handed_over(tree):  # no copy: the tree has served links, requisites and metadata
        doc = bare_extraction(tree, url=url, with_metadata=False, include_comments=False)
    if isinstance(doc, Document):
        markdown = strip_boilerplate(_clean(xmltotxt(doc.body, include_formatting=True)))
        heading = markdown[2:].partition("\n")[0] if markdown.startswith("# ") else None
        fields["text"] = with_lead(strip_boilerplate(_clean(doc.text)), lead, heading)
        fields["markdown"] = with_lead(markdown, lead, heading and f"# {heading}")
    fields["language"] = checked_language(fields["language"], fields.get("text", ""))
    fields["word_count"] = len(fields.get("text", "").split())
    fields["access"] = SCRIPTED if kind.needs_scripts else access(meta, fields["word_count"])
    warning = needs_scripts_warning(fields["word_count"]) if kind.needs_scripts else None
    fields["extraction_warning"] = warning
    fields["extraction_error"] = None if fields.get("text") else "no main text found"
    return fields


def needs_scripts_warning(words: int) -> str:
    """The extraction_warning of a page whose text its scripts render (docs/jsonl.md)."""
    plural = "" if words == 1 else "s"
    return f"the page's text needs scripts: only {words} word{plural} without them"


def _metadata_fields(
    meta: Metadata, url: str, canonical: str | None, language: str | None
) -> dict[str, Any]:
    return {
        "title": _clean(meta.title).replace("\u00ad", "") or None,  # no hyphenation hints
        "author": _clean(meta.author) or None,
        "published": meta.published,
        "modified": meta.modified,
        "language": _language_tag(meta.language) or language,
        "sitename": _clean(meta.sitename) or None,
        "description": _clean(meta.description) or None,
        "categories": _as_list(meta.categories),
        "tags": _as_list(meta.tags),
        # rel=canonical first; else the JSON-LD / og:url when it names another URL
        "canonical_url": canonical or _other_url(meta.url, url),
    }


def detect_language(text: str) -> str | None:
    """The language of a text the page did not declare (py3langid), or None when the
    text is too short to tell."""
    if len(text) < MIN_DETECTABLE:
        return None
    import py3langid  # loads its model on first use: in a worker, at its first such page

    language, _ = py3langid.classify(text[:DETECTED_SAMPLE])
    return language or None


def checked_language(declared: str | None, text: str) -> str | None:
    """The declared language, unless the text is long and clearly in another (a theme's
    default ``lang="en"`` on German, Spanish or Bengali pages); the detected one where none is
    declared."""
    if not declared:
        return detect_language(text)
    if len(text) < MIN_OVERRIDING:
        return declared
    import py3langid

    primary = declared.split("-", 1)[0].lower()
    if py3langid.classify(text[:CHECKED_SAMPLE])[0] == primary:  # the common case, cheaply
        return declared
    (language, best), *others = py3langid.rank(text[:DETECTED_SAMPLE])
    confidence = 1 / (1 + sum(math.exp(score - best) for _, score in others))
    return language if language != primary and confidence >= SURE_DETECTION else declared


def _other_url(candidate: str | None, url: str) -> str | None:
    if not candidate:
        return None
    absolute = urljoin(url, candidate.strip())
    if urlsplit(absolute).scheme not in ("http", "https") or absolute == url:
        return None
    return absolute


def _clean(value: str | None) -> str:
    """NFC and trimmed, as trafilatura.extract() returns its text."""
    return unicodedata.normalize("NFC", value).strip() if value else ""


def _as_list(value: str | list[str] | None) -> list[str]:
    """trafilatura gives categories/tags as lists or comma-separated strings: make a list."""
    values = [value] if isinstance(value, str) else value or []
    items = (_clean(part) for item in values if isinstance(item, str) for part in item.split(","))
    return list(dict.fromkeys(item for item in items if item))


def _declared_canonical(tree: HtmlElement, url: str) -> str | None:
    for link in tree.iterfind(".//link[@href]"):
        if "canonical" in (link.get("rel") or "").lower().split():
            absolute = urljoin(url, link.get("href", "").strip())
            if urlsplit(absolute).scheme in ("http", "https"):
                return absolute
    return None


def _declared_language(tree: HtmlElement) -> str | None:
    candidates = [tree.get("lang"), tree.get("xml:lang")]
    for meta in tree.iterfind(".//meta[@content]"):
        kind = meta.get("http-equiv") or meta.get("property") or meta.get("name") or ""
        if kind.strip().lower() in _LANGUAGE_METAS:
            candidates.append(meta.get("content"))
    for candidate in candidates:
        tag = _language_tag(candidate)
        if tag:
            return tag
    return None


def _language_tag(value: str | None) -> str | None:
    """A BCP 47-looking tag from a declaration ("en_GB, de" -> "en-GB"), or None."""
    tag = (value or "").replace(",", " ").split()
    if tag and _LANGUAGE_TAG.fullmatch(tag[0].replace("_", "-")):
        primary, _, rest = tag[0].replace("_", "-").partition("-")
        return primary.lower() + (f"-{rest}" if rest else "")
    return None


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise PageTimeout in this thread after `seconds` (main thread with SIGALRM only)."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not seconds or not usable:
        yield
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise PageTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)


def failed_result(reason: str, include_html: bool = False) -> dict[str, Any]:
    """An extraction result with no content and `reason` as its extraction_error."""
    result = _blank_result(include_html)
    result["extraction_error"] = reason
    return result


# --- the richer cleaned copy, as the JSONL line and the metadata record carry it --------------

RICH_FIELDS = (
    "modified", "markdown", "word_count", "images", "access", "page_type", "extraction_warning",
)  # fmt: skip


def rich_fields(extraction: dict[str, Any], markdown: bool = True) -> dict[str, Any]:
    """modified, markdown, word_count, images, access, page_type, extraction_warning of an
    extraction result (docs/jsonl.md); empty values for pages that were not extracted."""
    fields = {
        "modified": extraction.get("modified"),
        "markdown": extraction.get("markdown") or "",
        "word_count": extraction.get("word_count") or 0,
        "images": list(extraction.get("images") or []),
        "access": extraction.get("access"),
        "page_type": extraction.get("page_type"),
        "extraction_warning": extraction.get("extraction_warning"),
    }
    if not markdown:
        del fields["markdown"]
    return fields
