"""The two web apps of ``newsarchive replay``: the archive's own pages, and the replay origin.

The archive app (home, search, article pages, diffs, record views) and the replay app
(archived content, untrusted) are served on two ports, hence two origins: an archived script
runs on the replay origin and can neither read nor act on the archive app's pages. Both send
a strict Content-Security-Policy; every value the archive app renders is escaped by Jinja2.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from newsarchive.replay.browse import BrowsePages, default_comparison, page_number, paging
from newsarchive.replay.diff import diff_texts
from newsarchive.replay.lookup import TIMESTAMP_DIGITS, ArchiveReader, NotArchived
from newsarchive.replay.replayer import Replayer
from newsarchive.replay.rewrite import FRAME_MODE, parse_replay_path
from newsarchive.replay.search import MARK_END, MARK_START, RUN_ID, CaptureRow, Catalogue
from newsarchive.schedule.changes import CHANGED

STATIC_DIR = Path(__file__).resolve().parent / "static"
ORIGINS_SCOPE_KEY = "newsarchive.origins"
SEARCH_PAGE_SIZE = 20
HIT_CAPTURES = 5  # captures listed under a search hit, newest first
CAPTURE_ID = re.compile(r"^(?P<run>[A-Za-z0-9][A-Za-z0-9_.-]{0,99})/(?P<line>\d{1,9})$")


@dataclass
class Origins:
    """Where the two apps are reachable; filled in once their sockets are bound."""

    app: str = ""
    replay: str = ""


def origins_of(request: Request) -> Origins:
    return request.scope.get(ORIGINS_SCOPE_KEY) or Origins()


@dataclass
class Site:
    """Everything the app pages read: the archive, its catalogue, the run manifests."""

    root: Path
    archive: ArchiveReader
    catalogue: Catalogue

    def manifests(self) -> list[dict[str, Any]]:
        runs = []
        for path in sorted((self.root / "runs").glob("*.json")):
            try:
                manifest = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(manifest, dict) and RUN_ID.match(str(manifest.get("run_id", ""))):
                runs.append(manifest)
        return runs


def app_csp(replay_origin: str) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            "style-src 'self'",
            "img-src 'self'",
            f"frame-src {replay_origin}",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


class Pages:
    """The archive app's endpoints."""

    def __init__(self, site: Site):
        self.site = site
        self.templates = Environment(
            loader=PackageLoader("newsarchive.replay", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.templates.filters["highlight"] = highlight
        self.templates.filters["when"] = when
        self.templates.filters["quote"] = lambda value: quote(str(value or ""), safe="")

    def render(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse:
        origins = origins_of(request)
        html = self.templates.get_template(name).render(origins=origins, **context)
        response = HTMLResponse(html, status_code=status)
        return self._with_policy(response, origins)

    def _with_policy(self, response: Response, origins: Origins) -> Response:
        response.headers["Content-Security-Policy"] = app_csp(origins.replay)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def not_found(self, request: Request, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status=404, message=message)

    def respond(self, request: Request, response: Response) -> Response:
        """Any response (a feed, a download) under the app's headers."""
        return self._with_policy(response, origins_of(request))

    def app_origin(self, request: Request) -> str:
        return origins_of(request).app

    # -- home and search -------------------------------------------------------------------------
    async def home(self, request: Request) -> Response:
        return await _in_thread(self._home, request)

    def _home(self, request: Request) -> Response:
        catalogue = self.site.catalogue
        catalogue.refresh()
        text = request.query_params.get("q", "")[:500]
        url = request.query_params.get("url", "")[:2000]
        counts = catalogue.run_counts()
        runs = sorted(self.site.manifests(), key=lambda m: m.get("started") or "", reverse=True)
        listed = {run["run_id"] for run in runs}
        unfinished = sorted((run for run in counts if run not in listed), reverse=True)
        offset = (page_number(request) - 1) * SEARCH_PAGE_SIZE
        text_hits = catalogue.search_articles(text, offset, SEARCH_PAGE_SIZE + 1) if text else None
        url_hits = catalogue.search_url_articles(url, offset, SEARCH_PAGE_SIZE + 1) if url else None
        shown = len(text_hits or url_hits or [])
        hits = (text_hits or url_hits or [])[:SEARCH_PAGE_SIZE]
        return self.render(
            request,
            "home.html",
            runs=runs,
            unfinished=unfinished,
            counts=counts,
            q=text,
            url=url,
            text_hits=text_hits[:SEARCH_PAGE_SIZE] if text_hits is not None else None,
            url_hits=url_hits[:SEARCH_PAGE_SIZE] if url_hits is not None else None,
            hit_captures={hit.url: catalogue.captures_of(hit.url, HIT_CAPTURES) for hit in hits},
            paging=paging(request, SEARCH_PAGE_SIZE, None, shown, q=text, url=url),
            index_hits=self.site.archive.captures(url) if url.startswith("http") else [],
            total=catalogue.count(),
        )

    # -- one capture -----------------------------------------------------------------------------
    async def capture(self, request: Request) -> Response:
        return await _in_thread(self._capture, request)

    def _capture(self, request: Request) -> Response:
        self.site.catalogue.refresh()
        found = self._find(f"{request.path_params['run_id']}/{request.path_params['line']}")
        if found is None:
            return self.not_found(request, "No such capture in this archive.")
        row, text = found
        timeline = self.site.catalogue.timeline(row.url, row.final_url or "")
        replay_url = row.final_url or row.url
        previous = self.site.catalogue.previous(row) if row.line.get("change") == CHANGED else None
        compare_from, compare_to = default_comparison(row, timeline, previous and previous[0])
        return self.render(
            request,
            "capture.html",
            row=row,
            line=row.line,
            text=text,
            timeline=timeline,
            compare_from=compare_from,
            compare_to=compare_to,
            previous=previous and previous[0],
            replay_ts=_timestamp(row.line.get("fetched_at")),
            replay_url=replay_url,
            index_captures=self.site.archive.captures(replay_url),
        )

    def _find(self, capture_id: str) -> tuple[CaptureRow, str] | None:
        match = CAPTURE_ID.match(capture_id or "")
        if not match:
            return None
        return self.site.catalogue.capture(match["run"], int(match["line"]))

    # -- diff between two captures ---------------------------------------------------------------
    async def diff(self, request: Request) -> Response:
        return await _in_thread(self._diff, request)

    def _diff(self, request: Request) -> Response:
        self.site.catalogue.refresh()
        old = self._find(request.query_params.get("a", ""))
        new = self._find(request.query_params.get("b", ""))
        if old is None or new is None:
            return self.not_found(request, "Choose two captures of this archive to compare.")
        if (old[0].line.get("fetched_at") or "") > (new[0].line.get("fetched_at") or ""):
            old, new = new, old
        view = "inline" if request.query_params.get("view") == "inline" else "side"
        return self.render(
            request,
            "diff.html", old=old[0], new=new[0], diff=diff_texts(old[1], new[1]), view=view
        )

    # -- raw replay, framed ----------------------------------------------------------------------
    async def framed(self, request: Request) -> Response:
        raw_path = request.scope.get("raw_path", b"").decode("latin-1")
        parsed = parse_replay_path(raw_path.replace("/replay/", "/web/", 1), request.url.query)
        if parsed is None:
            return self.not_found(request, "Replay needs a timestamp and an http(s) URL.")
        timestamp, _mode, url = parsed
        try:
            capture = await _in_thread(self.site.archive.nearest, url, timestamp)
        except (NotArchived, ValueError):
            return self.render(
                request, "not_archived.html", status=404, url=url, timestamp=timestamp
            )
        src = f"{origins_of(request).replay}/web/{capture.timestamp}{FRAME_MODE}/{capture.url}"
        return self.render(request, "replay.html", capture=capture, src=src)

    async def captures(self, request: Request) -> Response:
        url = request.query_params.get("url", "")[:2000]
        found = await _in_thread(self.site.archive.captures, url) if url else []
        rows = await _in_thread(self.site.catalogue.timeline, url) if url else []
        status = 200 if found or rows else 404  # never archived (as the TimeMap says)
        return self.render(
            request, "captures.html", status=status, url=url, captures=found, rows=rows
        )

    # -- WARC records ----------------------------------------------------------------------------
    async def record(self, request: Request) -> Response:
        return await _in_thread(self._record, request)

    def _record(self, request: Request) -> Response:
        pointer = _pointer(request)
        if pointer is None:
            return self.not_found(request, "Not a record of this archive.")
        try:
            opened = self.site.archive.warcs.open_record(*pointer)
        except NotArchived:
            return self.not_found(request, "Not a record of this archive.")
        with opened:
            warc_headers = list(opened.record.rec_headers.headers)
            http = opened.record.http_headers
            statusline = f"{http.protocol} {http.statusline}" if http is not None else None
            http_headers = opened.http_headers
            preview = None
            if opened.rec_type in ("conversion", "metadata", "resource"):
                preview = opened.payload(200_000).decode("utf-8", "replace")
        return self.render(
            request,
            "record.html",
            filename=pointer[0], offset=pointer[1], length=pointer[2],
            warc_headers=warc_headers, statusline=statusline, http_headers=http_headers,
            preview=preview,
        )

    async def download(self, request: Request) -> Response:
        pointer = _pointer(request)
        if pointer is None:
            return self.not_found(request, "Not a record of this archive.")
        try:
            chunks = self.site.archive.warcs.raw_member(*pointer)
            first = await _in_thread(next, chunks, b"")
        except NotArchived:
            return self.not_found(request, "Not a record of this archive.")
        filename = f"{pointer[0].removesuffix('.gz').removesuffix('.warc')}-{pointer[1]}.warc.gz"
        response = StreamingResponse(
            _prepend(first, chunks),
            media_type="application/warc",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
        return self._with_policy(response, origins_of(request))


def _pointer(request: Request) -> tuple[str, int, int] | None:
    try:
        offset = int(request.query_params.get("offset", ""))
        length = int(request.query_params.get("length", ""))
    except ValueError:
        return None
    return request.path_params["filename"], offset, length


def _prepend(first: bytes, rest: Any) -> Any:
    yield first
    yield from rest


async def _in_thread(function: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(function, *args)


def highlight(snippet: str | None) -> Markup:
    """A search snippet, escaped, with the matched words marked."""
    escaped = str(escape(snippet or ""))
    return Markup(escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))


def when(value: str | None) -> str:
    """An ISO or 14-digit timestamp as 'YYYY-MM-DD HH:MM:SS UTC'."""
    if not value:
        return ""
    digits = "".join(ch for ch in value if ch.isdigit())[:TIMESTAMP_DIGITS]
    if len(digits) < TIMESTAMP_DIGITS:
        return value
    moment = datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _timestamp(iso: str | None) -> str:
    digits = "".join(ch for ch in iso or "" if ch.isdigit())[:TIMESTAMP_DIGITS]
    return digits or "2"


def archive_app(site: Site) -> Starlette:
    pages = Pages(site)
    browse = BrowsePages(pages)
    return Starlette(
        routes=[
            Route("/", pages.home),
            *browse.routes(),
            Route("/capture/{run_id}/{line:int}", pages.capture),
            Route("/diff", pages.diff),
            Route("/captures", pages.captures),
            Route("/replay/{timestamp}/{url:path}", pages.framed),
            Route("/record/{filename}", pages.record),
            Route("/record/{filename}/download", pages.download),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        exception_handlers={404: lambda request, exc: pages.not_found(request, "No such page.")},
    )


def replay_app(site: Site) -> Any:
    """The replay origin: a bare ASGI app, every path answered from the archive or 404."""

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        origins = origins_of(request)
        replayer = Replayer(site.archive, origins.app, origins.replay)
        if request.method not in ("GET", "HEAD"):
            response: Response = Response("read-only archive", status_code=405)
        else:
            response = await _in_thread(
                replayer.route,
                scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
                or request.url.path,
                request.url.query,
                request.headers.get("referer"),
            )
        await response(scope, receive, send)

    return app
