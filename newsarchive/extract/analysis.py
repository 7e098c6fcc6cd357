"""Page analysis and cleaned-copy extraction: decode an HTML page, parse it once, and find its
links, its requisites and its cleaned text (trafilatura) in that one tree.

`analyse_page` (and `extract_page`, extraction alone) are plain top-level functions (picklable,
no shared state) that never raise: every failure becomes the ``extraction_error`` of the result.
`ExtractionPool` runs them in worker processes started with "spawn" (never by forking the
crawler, whose reactor and threads must not be copied), so parsing stays off Scrapy's reactor.

Time limits, from the inside out:

1. in the worker, SIGALRM interrupts a page after ``timeout`` seconds: the page gets
   ``extraction_error = "timed out after Ns"`` and the worker takes the next page;
2. in the worker, ``faulthandler`` ends the process if the page is still running
   ``HARD_GRACE`` seconds later (stuck in C code, where SIGALRM cannot reach);
3. in the parent, ``asyncio.wait_for`` gives up another ``PARENT_MARGIN`` seconds after that.

A worker that dies (killed, out of memory, case 2) breaks the executor; the pool replaces it and
the pages in flight get an ``extraction_error`` naming the failure.
"""

from __future__ import annotations

import asyncio
import codecs
import faulthandler
import logging
import multiprocessing
import os
import re
import signal
import threading
import unicodedata
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import charset_normalizer
from w3lib.encoding import html_to_unicode, http_content_type_encoding, read_bom, to_unicode
from w3lib.html import get_base_url

from newsarchive.base.digests import sha1_digest
from newsarchive.base.mediatypes import is_html, mime_type
from newsarchive.extract.boilerplate import strip_boilerplate
from newsarchive.extract.links import links_in_tree
from newsarchive.extract.requisites import requisites_in_tree

if TYPE_CHECKING:
    from lxml.html import HtmlElement

    from newsarchive.extract.metadata import Metadata

logger = logging.getLogger(__name__)

HARD_GRACE = 5.0  # seconds past the soft limit before a stuck worker ends itself
PARENT_MARGIN = 10.0  # seconds past the hard limit before the parent gives up on a worker
MIN_DETECTABLE = 200  # characters of text below which its language is not guessed
DETECTED_SAMPLE = 5000  # characters of text the language is guessed from
MAX_RESTARTS = 3  # pools replaced in a row without a page finishing before giving up

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_LANGUAGE_METAS = frozenset({"content-language", "og:locale", "language", "dc.language"})
_QUIET_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext", "charset_normalizer")


# --- decoding --------------------------------------------------------------------------------


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode an HTML body; return ``(text, encoding)``. Never raises on bad bytes.

    Order (w3lib's, as Scrapy uses it): BOM, then the Content-Type header's charset, then
    ``<meta charset>`` / ``<meta http-equiv="Content-Type">`` (or an XML declaration), then
    detection (strict UTF-8, else charset-normalizer). Unknown charset names are skipped.
    A declaration that cannot be right is overridden: a legacy 8-bit label on a body that is
    valid non-ASCII UTF-8, "UTF-8" on a body mostly not UTF-8, UTF-16/32 named by a meta tag.
    Stray invalid bytes in a page otherwise in its charset become U+FFFD.
    """
    encoding, text = html_to_unicode(
        content_type, body, default_encoding="utf-8", auto_detect_fun=_detect_encoding
    )
    if read_bom(body)[0] is None:
        better = _correct_declared(body, content_type, encoding, text)
        if better is not None and better != encoding:
            encoding, text = better, to_unicode(body, better)
    return text, encoding


def _detect_encoding(body: bytes) -> str | None:
    if _is_utf8(body):
        return "utf-8"
    best = charset_normalizer.from_bytes(body).best()
    if best is None:
        return None
    try:
        return codecs.lookup(best.encoding).name
    except LookupError:
        return None


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _correct_declared(
    body: bytes, content_type: str | None, encoding: str, text: str
) -> str | None:
    """Return the encoding to use instead of a declared one that cannot be right, or None."""
    if encoding.startswith(("utf-16", "utf-32")):
        # WHATWG: a meta tag naming UTF-16/32 is read as UTF-8 (the tag itself is ASCII).
        return "utf-8" if http_content_type_encoding(content_type) is None else None
    if encoding == "utf-8":
        return _detect_if_garbled(body, text)
    if not body.isascii() and _is_utf8(body):
        return "utf-8"  # legacy label on real UTF-8: multi-byte runs do not happen by chance
    return None


def _detect_if_garbled(body: bytes, text: str) -> str | None:
    """For a body declared UTF-8: detect its charset if most non-ASCII bytes are invalid."""
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    if bad < 3 or bad * 4 < non_ascii:
        return None  # a few stray bytes in a UTF-8 page: keep UTF-8 with replacement chars
    return _detect_encoding(body)


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
) -> dict[str, Any]:
    """Decode and extract one page; return the JSONL extraction fields. Never raises.

    Keys: title, author, published, modified, language, sitename, description, categories,
    tags, canonical_url, text, markdown, word_count, images, access, extraction_error,
    text_digest, encoding, and html if include_html (docs/jsonl.md).
    ``time_limit`` (seconds, main thread only) interrupts decoding and extraction via SIGALRM.
    """
    job = PageJob(body, url, content_type, include_html=include_html)
    extraction = analyse_page(job, time_limit).extraction
    assert extraction is not None
    return extraction


def analyse_page(job: PageJob, time_limit: float | None = None) -> PageAnalysis:
    """Decode and parse `job`'s page once and find what it asks for. Never raises: extraction
    failures become its ``extraction_error``; links and requisites not found stay None."""
    analysis = PageAnalysis(extraction=_blank_result(job.include_html) if job.extract else None)
    result = analysis.extraction if analysis.extraction is not None else {}
    try:
        _analyse(job, analysis, result, time_limit)
    except PageTimeout:
        result["extraction_error"] = f"timed out after {time_limit:g}s"
    except Exception as exc:  # contract: every failure becomes a reason string
        result["extraction_error"] = _describe(exc)
    if analysis.extraction is not None:
        result["text_digest"] = sha1_digest(result["text"].encode("utf-8", "replace"))
    return analysis


def _analyse(
    job: PageJob, analysis: PageAnalysis, result: dict[str, Any], time_limit: float | None
) -> None:
    if not is_html(job.content_type, job.body):
        result["extraction_error"] = not_html_error(job.content_type)
        return
    with _time_limit(time_limit):
        html, result["encoding"] = decode_html(job.body, job.content_type)
        if job.include_html:
            result["html"] = html
        tree = parse_html(html)
        if tree is not None and (job.links or job.requisites):
            _find_links(job, analysis, tree, get_base_url(html[:4096], job.url))
        if job.extract:
            if tree is None:
                result["extraction_error"] = "not parseable as HTML"
            else:
                result.update(fields_from_tree(tree, job.url))


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


def parse_html(html: str) -> HtmlElement | None:
    """The lxml tree of a decoded page, parsed as trafilatura parses it (None if not HTML)."""
    from trafilatura.utils import load_html  # trafilatura is loaded where pages are extracted

    from newsarchive.extract.trafilatura_tuning import tuned

    with tuned():  # its parser, with lxml's C-level element lookup
        # A leftover XML declaration makes lxml re-read the str as bytes in the declared charset.
        return load_html(_XML_DECLARATION.sub("", html, count=1))


def fields_from_tree(tree: HtmlElement, url: str) -> dict[str, Any]:
    """The extraction fields of a parsed page. Its tree is used up: trafilatura prunes it."""
    from newsarchive.extract.trafilatura_tuning import tuned

    with tuned():  # readability for short texts only, guarded XPaths (docs/quality.md)
        return _fields(tree, url)


def _fields(tree: HtmlElement, url: str) -> dict[str, Any]:
    from trafilatura import bare_extraction
    from trafilatura.settings import Document
    from trafilatura.xml import xmltotxt

    from newsarchive.extract.metadata import access, page_images, page_metadata
    from newsarchive.extract.trafilatura_tuning import handed_over

    canonical, language = _declared_canonical(tree, url), _declared_language(tree)
    meta = page_metadata(tree, url)
    fields = _metadata_fields(meta, url, canonical, language)
    fields["images"] = page_images(tree, url, meta)
    # bare_extraction's metadata step (htmldate's extensive search) is the slow part, replaced
    # by newsarchive.extract.metadata. Links, formatting and images left out: keeping them changes
    # which text trafilatura picks (docs/quality.md).
    with handed_over(tree):  # no copy: the tree has served links, requisites and metadata
        doc = bare_extraction(tree, url=url, with_metadata=False, include_comments=False)
    if isinstance(doc, Document):
        fields["text"] = strip_boilerplate(_clean(doc.text))
        fields["markdown"] = strip_boilerplate(_clean(xmltotxt(doc.body, include_formatting=True)))
    if not fields["language"]:
        fields["language"] = detect_language(fields.get("text", ""))
    fields["word_count"] = len(fields.get("text", "").split())
    fields["access"] = access(meta, fields["word_count"])
    fields["extraction_error"] = None if fields.get("text") else "no main text found"
    return fields


def _metadata_fields(
    meta: Metadata, url: str, canonical: str | None, language: str | None
) -> dict[str, Any]:
    return {
        "title": _clean(meta.title) or None,
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
    """The language of a text the page did not declare (py3langid, ~0.1 ms), or None when the
    text is too short to tell."""
    if len(text) < MIN_DETECTABLE:
        return None
    import py3langid  # loads its model (0.5 s) on first use, in each worker's warm-up

    language, _ = py3langid.classify(text[:DETECTED_SAMPLE])
    return language or None


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


# --- worker side -----------------------------------------------------------------------------

# Extracted once by each worker before its first page (and by `newsarchive eval` before it
# times extraction): what trafilatura, jusText and py3langid load on first use is not per page.
WARMUP_PAGE = (
    b"<html><head><title>Warm-up</title></head><body><nav><a href='/'>Home</a></nav><article>"
    + b"<p>This paragraph only exists to load trafilatura's lazily built state.</p>" * 8
    + b"</article><footer>Imprint</footer></body></html>"
)
WARMUP_URL = "https://example.com/warm-up"


def _init_worker() -> None:
    """Worker initializer: quiet per-page library logging, leave Ctrl-C to the parent, warm up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    extract_page(WARMUP_PAGE, WARMUP_URL, "text/html")


def _exit_with_parent() -> None:
    """End this worker when the crawl process dies, however it dies (SIGKILL, OOM).

    Idle workers otherwise wait forever: they hold both ends of their own task queue's pipe,
    so they never see EOF.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # waits on the parent's sentinel
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _analyse_in_worker(job: PageJob, time_limit: float) -> PageAnalysis:
    """Worker entry point: the soft limit (SIGALRM) inside, a hard limit (process exit) around."""
    faulthandler.dump_traceback_later(time_limit + HARD_GRACE, exit=True)
    try:
        return analyse_page(job, time_limit=time_limit)
    finally:
        faulthandler.cancel_dump_traceback_later()


# --- parent side -----------------------------------------------------------------------------


def failed_result(reason: str, include_html: bool = False) -> dict[str, Any]:
    """An extraction result with no content and `reason` as its extraction_error."""
    result = _blank_result(include_html)
    result["extraction_error"] = reason
    return result


def _mp_context() -> multiprocessing.context.BaseContext:
    # "spawn", not "forkserver": workers import the same modules either way (the forkserver
    # preloads nothing of trafilatura), and the forkserver is one more process (~13 MB RSS).
    return multiprocessing.get_context("spawn")


class ExtractionPool:
    """Run `analyse_page` (and `extract_page`) in worker processes, awaitable from asyncio.

    At most two pages per worker are handed to the workers at a time (one running, one queued,
    so that a worker never waits for the reactor to send its next page); further calls wait
    their turn, and `pending` counts both, so a caller can hold back new work while it is high.

    Workers start with "spawn", which re-imports the main module: a script
    that creates a pool needs the usual ``if __name__ == "__main__":`` guard. If workers die
    `MAX_RESTARTS` times in a row without finishing a page (they cannot start at all), the pool
    stops replacing them and every page gets an extraction_error saying so.
    """

    QUEUED_PER_WORKER = 2

    def __init__(self, workers: int = 0, timeout: float = 30.0) -> None:
        self.workers = workers if workers > 0 else (os.cpu_count() or 1)
        self.timeout = timeout
        self._context = _mp_context()
        self._started = False  # a worker has started (set from the executor's thread)
        self._executor = self._new_executor()
        self._slots = asyncio.Semaphore(self.workers * self.QUEUED_PER_WORKER)
        self._pending = 0
        self._restarts = 0  # pools replaced since a page last finished
        self._closed = False

    @property
    def ready(self) -> bool:
        """Whether a worker is up: workers take about a second to start (they import
        trafilatura and warm up), and callers with other ways may not want to wait for them."""
        return self._started

    @property
    def pending(self) -> int:
        """Pages submitted and not yet answered (running or waiting)."""
        return self._pending

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (for monitoring and tests)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return [pid for pid in list(processes) if isinstance(pid, int)]

    async def extract(
        self, body: bytes, url: str, content_type: str | None, include_html: bool = False
    ) -> dict[str, Any]:
        """Extract one page in a worker; failures come back as extraction_error."""
        job = PageJob(body, url, content_type, include_html=include_html)
        extraction = (await self.analyse(job)).extraction
        assert extraction is not None
        return extraction

    async def analyse(self, job: PageJob) -> PageAnalysis:
        """Analyse one page in a worker; a worker's failure comes back as the extraction_error
        (and no links or requisites)."""
        self._pending += 1
        try:
            async with self._slots:
                return await self._run(job)
        finally:
            self._pending -= 1

    def close(self) -> None:
        """Stop the workers (waits for pages already running)."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def _run(self, job: PageJob) -> PageAnalysis:
        if self._restarts > MAX_RESTARTS:
            return _failed(job, "extraction workers keep dying; extraction stopped")
        # a page may wait for the one queued before it on the same worker
        limit = self.QUEUED_PER_WORKER * (self.timeout + HARD_GRACE) + PARENT_MARGIN
        executor = self._executor
        try:
            executor, future = self._submit(job)
            result = await asyncio.wait_for(asyncio.wrap_future(future), limit)
        except BrokenProcessPool as exc:
            self._replace(executor)
            return _failed(job, f"extraction worker died ({type(exc).__name__})")
        except TimeoutError:
            self._replace(executor, kill=True)
            return _failed(job, f"timed out after {self.timeout:g}s (worker unresponsive)")
        self._restarts = 0
        return result

    def _submit(self, job: PageJob) -> tuple[ProcessPoolExecutor, Future[PageAnalysis]]:
        executor = self._executor
        try:
            return executor, executor.submit(_analyse_in_worker, job, self.timeout)
        except BrokenProcessPool:  # broke since the last page: replace it, try once more
            self._replace(executor)
            executor = self._executor
            return executor, executor.submit(_analyse_in_worker, job, self.timeout)

    def _new_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=self._context, initializer=_init_worker
        )
        # Workers start on demand, one per task waiting: start them all now, not on the
        # first pages, while the crawl is still fetching robots.txt and its seeds.
        for _ in range(self.workers):
            executor.submit(os.getpid).add_done_callback(self._worker_started)
        return executor

    def _worker_started(self, started: Future[int]) -> None:
        if not started.cancelled() and started.exception() is None:
            self._started = True

    def _replace(self, broken: ProcessPoolExecutor, kill: bool = False) -> None:
        """Swap in a fresh executor for `broken` (once, however many pages report it)."""
        if self._executor is broken and not self._closed and self._restarts <= MAX_RESTARTS:
            self._restarts += 1
            if self._restarts > MAX_RESTARTS:
                logger.error("extraction workers died %d times in a row; giving up", MAX_RESTARTS)
            else:
                logger.warning("extraction worker died; starting a new worker pool")
                self._executor = self._new_executor()
        if kill:
            _kill_workers(broken)
        broken.shutdown(wait=False, cancel_futures=True)


def _failed(job: PageJob, reason: str) -> PageAnalysis:
    extraction = failed_result(reason, job.include_html) if job.extract else None
    return PageAnalysis(extraction=extraction)


def _kill_workers(executor: ProcessPoolExecutor) -> None:
    processes = getattr(executor, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.kill()


# --- the richer cleaned copy, as the JSONL line and the metadata record carry it --------------

RICH_FIELDS = ("modified", "markdown", "word_count", "images", "access")


def rich_fields(extraction: dict[str, Any], markdown: bool = True) -> dict[str, Any]:
    """modified, markdown, word_count, images, access of an extraction result (docs/jsonl.md);
    empty values for pages that were not extracted."""
    fields = {
        "modified": extraction.get("modified"),
        "markdown": extraction.get("markdown") or "",
        "word_count": extraction.get("word_count") or 0,
        "images": list(extraction.get("images") or []),
        "access": extraction.get("access"),
    }
    if not markdown:
        del fields["markdown"]
    return fields
