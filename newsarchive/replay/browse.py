"""Browsing the archive: a run's captures, the sites and their articles, the edited articles
(with their diffs, as NewsDiffs and diffengine show them) and an Atom feed of those edits.

Every list is read a page at a time from the catalogue's indexes (search.Catalogue), so a page
costs the same on an archive of 100,000 captures as on a small one. Like every page of the
archive app, these are rendered by Jinja2 with autoescaping and sent under the app's CSP.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from newsarchive.replay.diff import TextDiff, diff_texts
from newsarchive.replay.lookup import TIMESTAMP_DIGITS
from newsarchive.replay.search import RUN_ID, CaptureRow, Catalogue, site_of
from newsarchive.schedule.changes import CHANGED, NEW, UNCHANGED

PAGE_SIZE = 50
CHANGES = (NEW, CHANGED, UNCHANGED)  # a run page lists all its captures, or those of one
EDITS_PAGE_SIZE = 20
FEED_SIZE = 50
MAX_PAGE = 100_000
CHANGED_ROWS_SHOWN = 8  # of one edit on the edits page and in the feed; the diff page has all
ATOM_TYPE = "application/atom+xml; charset=utf-8"
# Characters XML 1.0 forbids (archived text may carry them): dropped from the feed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Renderer(Protocol):
    """What these pages need of the app (app.Pages): its templates, its catalogue and archive
    root, rendering under the app's headers, and its 404 page."""

    templates: Any
    site: Any

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        ...

    def respond(self, request: Request, response: Response) -> Response:
        ...

    def app_origin(self, request: Request) -> str:
        ...

    def not_found(self, request: Request, message: str) -> Response:
        ...


@dataclass(frozen=True)
class Paging:
    """Which page of a list is shown, and the links to its neighbours."""

    number: int
    size: int
    total: int | None
    has_next: bool
    path: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // self.size))

    def href(self, number: int) -> str:
        params = [*self.params, *((("page", str(number)),) if number > 1 else ())]
        return f"{self.path}?{urlencode(params)}" if params else self.path

    @property
    def previous_href(self) -> str | None:
        return self.href(self.number - 1) if self.number > 1 else None

    @property
    def next_href(self) -> str | None:
        return self.href(self.number + 1) if self.has_next else None


def page_number(request: Request) -> int:
    try:
        number = int(request.query_params.get("page", "1"))
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE)


def paging(request: Request, size: int, total: int | None, shown: int,
           **params: str | None) -> Paging:
    """The paging of a list read with ``limit = size + 1``: ``shown`` rows came back."""
    kept = tuple((name, value) for name, value in params.items() if value)
    return Paging(page_number(request), size, total, shown > size, request.url.path, kept)


@dataclass(frozen=True)
class Edit:
    """An edited article: the capture whose text changed, the one it was compared with, and
    the diff of their texts (only the changed paragraphs are kept for lists and the feed)."""

    new: CaptureRow
    old: CaptureRow | None
    diff: TextDiff

    @property
    def changed_rows(self) -> list:
        return [row for row in self.diff.rows if row.kind != "equal"]

    @property
    def diff_href(self) -> str:
        if self.old is None:
            return f"/capture/{self.new.capture_id}"
        return "/diff?" + urlencode({"a": self.old.capture_id, "b": self.new.capture_id})


# Captures never change: the diff of two texts is kept for the next view (feed readers poll).
cached_diff = lru_cache(maxsize=256)(diff_texts)


def load_edits(catalogue: Catalogue, rows: list[CaptureRow]) -> list[Edit]:
    edits = []
    for row in rows:
        before = catalogue.previous(row)
        text = catalogue.text_of(row)
        old, old_text = before if before else (None, "")
        edits.append(Edit(row, old, cached_diff(old_text, text)))
    return edits


def default_comparison(row: CaptureRow, timeline: list[CaptureRow],
                       previous: CaptureRow | None) -> tuple[str, str]:
    """The two captures the article page's compare form starts with: this capture and the one
    before it (for a ``changed`` capture, the one its change was judged against), or the next
    one when this is the first capture."""
    ids = [item.capture_id for item in timeline]
    here = row.capture_id
    if here not in ids or len(ids) < 2:
        return (ids[-2], ids[-1]) if len(ids) > 1 else (here, here)
    if previous is not None and previous.capture_id in ids and previous.capture_id != here:
        return previous.capture_id, here
    index = ids.index(here)
    return (ids[index - 1], here) if index > 0 else (here, ids[1])


def xml_text(value: Any) -> Markup:
    """A value (plain or already HTML) as escaped XML text: for Atom's ``type="html"``."""
    return escape(_NOT_XML.sub("", str(value if value is not None else "")))


def rfc3339(value: str | None) -> str:
    """An ISO or 14-digit timestamp as an RFC 3339 date (Atom's dates), UTC."""
    digits = "".join(ch for ch in value or "" if ch.isdigit())[:TIMESTAMP_DIGITS]
    if len(digits) < TIMESTAMP_DIGITS:
        return "1970-01-01T00:00:00Z"
    moment = datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class BrowsePages:
    """The run, sites, site, edits and edits-feed endpoints of the archive app."""

    def __init__(self, pages: Renderer):
        self.pages = pages
        pages.templates.filters["xml_text"] = xml_text
        pages.templates.filters["rfc3339"] = rfc3339
        pages.templates.filters["site_of"] = site_of

    @property
    def catalogue(self) -> Catalogue:
        return self.pages.site.catalogue

    def routes(self) -> list[Route]:
        return [
            Route("/run/{run_id}", self.run),
            Route("/sites", self.sites),
            Route("/site/{site}", self.site),
            Route("/edits", self.edits),
            Route("/edits.atom", self.feed),
        ]

    # -- one run ---------------------------------------------------------------------------------
    async def run(self, request: Request) -> Response:
        return await run_in_threadpool(self._run, request)

    def _run(self, request: Request) -> Response:
        self.catalogue.refresh()
        run_id = request.path_params["run_id"]
        manifest = next((m for m in self.pages.site.manifests() if m["run_id"] == run_id), None)
        counts = self.catalogue.run_counts().get(run_id) if RUN_ID.match(run_id) else None
        if manifest is None and counts is None:
            return self.pages.not_found(request, "No such run in this archive.")
        change = request.query_params.get("change")
        change = change if change in CHANGES else None
        counts = counts or {}
        offset = (page_number(request) - 1) * PAGE_SIZE
        rows = self.catalogue.run_captures(run_id, offset, PAGE_SIZE + 1, change)
        total = counts.get(change or "pages", 0)
        return self.pages.render(
            request, "run.html", run_id=run_id, manifest=manifest or {}, counts=counts,
            rows=rows[:PAGE_SIZE], change=change, changes=CHANGES,
            paging=paging(request, PAGE_SIZE, total, len(rows), change=change),
        )

    # -- sites and a site's articles -------------------------------------------------------------
    async def sites(self, request: Request) -> Response:
        return await run_in_threadpool(self._sites, request)

    def _sites(self, request: Request) -> Response:
        self.catalogue.refresh()
        total = self.catalogue.site_count()
        offset = (page_number(request) - 1) * PAGE_SIZE
        rows = self.catalogue.sites(offset, PAGE_SIZE + 1)
        return self.pages.render(
            request, "sites.html", sites=rows[:PAGE_SIZE],
            paging=paging(request, PAGE_SIZE, total, len(rows)),
        )

    async def site(self, request: Request) -> Response:
        return await run_in_threadpool(self._site, request)

    def _site(self, request: Request) -> Response:
        self.catalogue.refresh()
        found = self.catalogue.site(request.path_params["site"])
        if found is None:
            return self.pages.not_found(request, "No such site in this archive.")
        offset = (page_number(request) - 1) * PAGE_SIZE
        rows = self.catalogue.site_articles(found.site, offset, PAGE_SIZE + 1)
        return self.pages.render(
            request, "site.html", site=found, articles=rows[:PAGE_SIZE],
            paging=paging(request, PAGE_SIZE, found.articles, len(rows)),
        )

    # -- edits -----------------------------------------------------------------------------------
    async def edits(self, request: Request) -> Response:
        return await run_in_threadpool(self._edits, request)

    def _edits(self, request: Request) -> Response:
        self.catalogue.refresh()
        site = request.query_params.get("site", "")[:300] or None
        total = self.catalogue.edit_count(site)
        offset = (page_number(request) - 1) * EDITS_PAGE_SIZE
        rows = self.catalogue.edits(offset, EDITS_PAGE_SIZE + 1, site)
        return self.pages.render(
            request, "edits.html", site=site, total=total,
            edits=load_edits(self.catalogue, rows[:EDITS_PAGE_SIZE]),
            paging=paging(request, EDITS_PAGE_SIZE, total, len(rows), site=site),
            shown=CHANGED_ROWS_SHOWN,
        )

    async def feed(self, request: Request) -> Response:
        return await run_in_threadpool(self._feed, request)

    def _feed(self, request: Request) -> Response:
        """The latest edits as Atom 1.0 (RFC 4287): one entry per edit, linking to its diff."""
        self.catalogue.refresh()
        site = request.query_params.get("site", "")[:300] or None
        rows = self.catalogue.edits(0, FEED_SIZE, site)
        app = self.pages.app_origin(request)
        # feed readers poll: an unchanged feed is answered 304 before any diff is computed
        tag = hashlib.sha1("\n".join([app, *(row.capture_id for row in rows)]).encode())
        etag = f'"{tag.hexdigest()[:24]}"'
        if etag in request.headers.get("if-none-match", ""):
            return self.pages.respond(request, Response(status_code=304, headers={"ETag": etag}))
        edits = load_edits(self.catalogue, rows)
        query = f"?{urlencode({'site': site})}" if site else ""
        xml = self.pages.templates.get_template("edits.atom").render(
            app=app, site=site, query=query, edits=edits, shown=CHANGED_ROWS_SHOWN,
            feed_id=self._feed_id(site), entry_id=self._entry_id,
            updated=rfc3339(edits[0].new.fetched_at) if edits else rfc3339(None),
        )
        return self.pages.respond(
            request, Response(xml, media_type=ATOM_TYPE, headers={"ETag": etag}))

    def _feed_id(self, site: str | None) -> str:
        """Stable for one archive (its path) and site filter."""
        root = self.pages.site.root.resolve().as_uri()
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{root}#edits:{site or ''}").urn

    def _entry_id(self, edit: Edit) -> str:
        """The capture's WARC record id (a urn:uuid, permanent wherever the archive moves)."""
        pointer = (edit.new.line.get("warc") or {}).get("response") or {}
        record_id = str(pointer.get("record_id") or "").strip("<>")
        if record_id.startswith("urn:uuid:"):
            return record_id
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{self._feed_id(None)}#{edit.new.capture_id}").urn
