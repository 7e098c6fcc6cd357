"""Raw replay: archived responses served from their WARC records on the replay origin.

Only ever answers from the archive: the nearest capture in time of the URL asked for, a
revisit resolved to the response it repeats, HTML and CSS rewritten so that what they load
comes from the archive too, redirects replayed as redirects into the archive, and a clear
"not archived" 404 for anything else. Archived headers are not passed on, except the few
that describe the body (no cookies, no security or caching policy of the original site).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from urllib.parse import quote, urljoin, urlsplit

from starlette.responses import Response, StreamingResponse

from newsarchive.base.mediatypes import CSS_TYPES, HTML_TYPES, mime_type
from newsarchive.replay.lookup import ArchiveReader, Capture, NotArchived, Resolved, parse_timestamp
from newsarchive.replay.rewrite import (
    FRAME_MODE,
    PAGE_MODE,
    UrlRewriter,
    parse_replay_path,
    rewrite_css,
    rewrite_html,
)

REDIRECTS = frozenset({301, 302, 303, 307, 308})
KEPT_HEADERS = frozenset({"content-type", "content-language", "last-modified"})
MAX_REWRITE_BYTES = 32 * 1024 * 1024


class Replayer:
    """Answers replay-origin requests; ``app_origin`` and ``replay_origin`` are set once bound."""

    def __init__(self, archive: ArchiveReader, app_origin: str = "", replay_origin: str = ""):
        self.archive = archive
        self.app_origin = app_origin
        self.replay_origin = replay_origin

    # -- entry points ----------------------------------------------------------------------------
    def replay(self, timestamp: str, mode: str, url: str) -> Response:
        try:
            capture = self.archive.nearest(url, timestamp)
        except (NotArchived, ValueError):
            return self.not_archived(url, timestamp)
        if capture.timestamp != timestamp and _is_html(capture.mime) and not _is_redirect(capture):
            # a page is shown at its own capture time, so that its links and banner agree
            target = UrlRewriter(capture.url, capture.timestamp, mode).replay_url(capture.url)
            return self._with_policy(Response(status_code=302, headers={"Location": target}))
        try:
            resolved = self.archive.resolve(capture)
        except NotArchived:
            return self.not_archived(url, timestamp)
        return self._with_policy(self._respond(resolved, mode))

    def fallback(self, path: str, query: str, referer: str | None) -> Response:
        """A URL a page built at run time (not rewritten): resolved against the referring
        replay URL when there is one, else not archived."""
        parsed = parse_replay_path(urlsplit(referer).path) if referer else None
        if parsed is None:
            return self.not_archived(path + (f"?{query}" if query else ""), "")
        timestamp, _mode, page_url = parsed
        target = urljoin(page_url, path + (f"?{query}" if query else ""))
        location = UrlRewriter(page_url, timestamp, FRAME_MODE).replay_url(target)
        return self._with_policy(Response(status_code=307, headers={"Location": location}))

    def not_archived(self, url: str, timestamp: str) -> Response:
        listing = f"{self.app_origin}/captures?url={quote(url, safe='')}"
        body = (
            "<!DOCTYPE html><html><head><meta charset=utf-8><title>Not archived</title></head>"
            "<body style=\"font:15px sans-serif;margin:2rem\"><h1>Not archived</h1>"
            f"<p>This archive holds no capture of <code>{html.escape(url)}</code>"
            f"{' near ' + html.escape(timestamp) if timestamp else ''}. "
            "Replay never fetches from the live web.</p>"
            f"<p><a href=\"{html.escape(listing)}\" target=_top>Captures of this URL</a></p>"
            "</body></html>"
        )
        response = Response(body, status_code=404, media_type="text/html; charset=utf-8")
        response.headers["X-Archive-Status"] = "not-archived"
        return self._with_policy(response)

    # -- responses -------------------------------------------------------------------------------
    def _respond(self, resolved: Resolved, mode: str) -> Response:
        capture, head = resolved.capture, resolved.head
        status = head.status or 200
        headers = {"Memento-Datetime": _http_date(capture), "X-Archive-Capture": capture.timestamp}
        location = head.http_header("Location")
        if status in REDIRECTS and location:
            resolved.close()
            target = urljoin(capture.url, location.strip())
            headers["Location"] = UrlRewriter(capture.url, capture.timestamp, mode).replay_url(
                target
            )
            return Response(status_code=status, headers=headers)
        for name, value in head.http_headers:
            if name.lower() in KEPT_HEADERS:
                headers[name] = value
        mime = mime_type(head.http_header("Content-Type") or capture.mime)
        rewriter = UrlRewriter(capture.url, capture.timestamp, mode)
        left = resolved.body.codings_left  # the payload is served decoded, but for these
        if left:
            headers["Content-Encoding"] = ", ".join(left)
        if mime in HTML_TYPES | CSS_TYPES and not left:
            try:
                body = resolved.body.payload(MAX_REWRITE_BYTES)
            finally:
                resolved.close()
            if mime in CSS_TYPES:
                body = rewrite_css(body, rewriter)
            else:
                banner = self._banner(capture) if mode == PAGE_MODE else None
                body = rewrite_html(body, rewriter, banner)
            return Response(body, status_code=status, headers=headers)
        if mime.startswith("font/") or "font" in mime:
            headers["Access-Control-Allow-Origin"] = "*"  # fonts load from sandboxed frames
        return StreamingResponse(_stream(resolved), status_code=status, headers=headers)

    def _banner(self, capture: Capture) -> str:
        when = capture.moment.strftime("%Y-%m-%d %H:%M:%S UTC")
        listing = f"{self.app_origin}/captures?url={quote(capture.url, safe='')}"
        url = html.escape(capture.url).encode("ascii", "xmlcharrefreplace").decode("ascii")
        return (
            '<div id="newsarchive-banner" style="all:initial;display:block;box-sizing:border-box;'
            "width:100%;background:#fff4cc;border-bottom:2px solid #b58900;padding:6px 12px;"
            'font:13px/1.4 sans-serif;color:#222">'
            f"<b style=\"all:unset;font-weight:bold\">Archived copy</b> of {url}, captured "
            f"<time datetime=\"{capture.timestamp}\">{when}</time>. Not the live page. "
            f'<a href="{html.escape(listing)}" target="_top" style="color:#0645ad">'
            "All captures in the archive</a></div>"
        )

    def _with_policy(self, response: Response) -> Response:
        response.headers["Content-Security-Policy"] = replay_csp(
            self.replay_origin, self.app_origin
        )
        response.headers["Referrer-Policy"] = "no-referrer-when-downgrade"
        response.headers["Cache-Control"] = "no-cache"
        return response

    def route(self, path: str, query: str, referer: str | None) -> Response:
        parsed = parse_replay_path(path, query)
        if parsed is None:
            return self.fallback(path, query, referer)
        return self.replay(*parsed)


def replay_csp(replay_origin: str, app_origin: str) -> str:
    """Archived pages may load from the replay origin only, and be framed by the app only."""
    own = f"'self' {replay_origin}".strip()
    return "; ".join(
        (
            f"default-src {own} data: blob: 'unsafe-inline' 'unsafe-eval'",
            f"connect-src {own}",
            f"form-action {own}",
            f"base-uri {own}",
            "object-src 'none'",
            f"frame-ancestors {own} {app_origin}".strip(),
        )
    )


def _stream(resolved: Resolved) -> Iterator[bytes]:
    try:
        yield from resolved.body.payload_chunks()
    finally:
        resolved.close()


def _is_redirect(capture: Capture) -> bool:
    return capture.status in REDIRECTS


def _is_html(mime: str | None) -> bool:
    return mime_type(mime) in HTML_TYPES


def _http_date(capture: Capture) -> str:
    return parse_timestamp(capture.timestamp).strftime("%a, %d %b %Y %H:%M:%S GMT")
