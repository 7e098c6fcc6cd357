"""Memento (RFC 7089) on the replay origin: TimeGate, TimeMap, and Link headers on mementos.

URL patterns are pywb's, under the replay origin's ``/web/`` prefix:

- memento (URI-M): ``/web/<14-digit timestamp>/<url>`` (the replay app serves it; this layer
  adds its ``Link`` header: original, timegate, timemap, itself, first/last/prev/next);
- TimeGate (URI-G): ``/web/<url>``: ``Accept-Datetime`` picks the nearest capture (the latest
  without one), answered 302 with ``Vary: accept-datetime``;
- TimeMap (URI-T): ``/web/timemap/link/<url>``: every memento, ``application/link-format``.

A URL never archived is 404 on all three.
"""

from __future__ import annotations

import re
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from newsarchive.replay.app import ORIGINS_SCOPE_KEY, Origins
from newsarchive.replay.lookup import ArchiveReader, Capture, nearest
from newsarchive.replay.rewrite import REPLAY_PATH, parse_replay_path

TIMEMAP_PREFIX = "/web/timemap/link/"
TIMEGATE_PATH = re.compile(r"^/web/(?P<url>https?:/.*)$", re.IGNORECASE | re.DOTALL)
LINK_FORMAT = "application/link-format"
HTTP_DATE = "%a, %d %b %Y %H:%M:%S GMT"
_URI_SAFE = "!#$%&'()*+,-./:;=?@[]^_`{|}~"  # printable ASCII but <, >, ", \ and space


class Mementos:
    """The mementos of one URL (one per capture time, oldest first) and their links."""

    def __init__(self, url: str, captures: list[Capture], replay_origin: str):
        self.url = url
        self.origin = replay_origin
        seen: dict[str, Capture] = {}
        for capture in captures:
            seen.setdefault(capture.timestamp, capture)
        self.captures = sorted(seen.values(), key=lambda c: c.timestamp)

    def uri_m(self, capture: Capture) -> str:
        return f"{self.origin}/web/{capture.timestamp}/{capture.url}"

    @property
    def uri_g(self) -> str:
        return f"{self.origin}/web/{self.url}"

    @property
    def uri_t(self) -> str:
        return f"{self.origin}{TIMEMAP_PREFIX}{self.url}"

    def memento(self, capture: Capture, rel: str = "memento") -> str:
        return _link(self.uri_m(capture), rel, datetime=http_date(capture))

    def heads(self, timemap_rel: str = "timemap") -> list[str]:
        """original, timegate and timemap links (the TimeMap names itself ``self``)."""
        span = {"from": http_date(self.captures[0]), "until": http_date(self.captures[-1])}
        return [
            _link(self.url, "original"),
            _link(self.uri_g, "timegate"),
            _link(self.uri_t, timemap_rel, type=LINK_FORMAT, **span),
        ]

    def ends(self) -> list[str]:
        first, last = self.captures[0], self.captures[-1]
        if first is last:
            return [self.memento(first, "first last memento")]
        return [self.memento(first, "first memento"), self.memento(last, "last memento")]

    def link_header(self, served: Capture) -> str:
        """The ``Link`` header of the memento ``served``: original, timegate, timemap, itself,
        its neighbours, and the first and last mementos."""
        captures, last = self.captures, len(self.captures) - 1
        at = next(i for i, c in enumerate(captures) if c.timestamp == served.timestamp)
        own = ("first " if at == 0 else "") + ("last " if at == last else "") + "memento"
        links = [*self.heads(), self.memento(captures[at], own)]
        if at > 0:
            links.append(self.memento(captures[at - 1], "prev memento"))
        if at < last:
            links.append(self.memento(captures[at + 1], "next memento"))
        if at != 0:
            links.append(self.memento(captures[0], "first memento"))
        if at != last:
            links.append(self.memento(captures[last], "last memento"))
        return ", ".join(links)

    def timemap(self) -> str:
        links = self.heads("self")
        if len(self.captures) == 1:
            links += self.ends()
        else:
            links.append(self.memento(self.captures[0], "first memento"))
            links += [self.memento(c) for c in self.captures[1:-1]]
            links.append(self.memento(self.captures[-1], "last memento"))
        return ",\n".join(links) + "\n"


def http_date(capture: Capture) -> str:
    return capture.moment.strftime(HTTP_DATE)


def parse_accept_datetime(value: str) -> str:
    """An ``Accept-Datetime`` (RFC 1123 date, GMT) as a 14-digit timestamp; ValueError if not."""
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"not an HTTP date: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _link(uri: str, rel: str, **params: str) -> str:
    extra = "".join(f'; {name}="{value}"' for name, value in params.items())
    return f'<{quote(uri, safe=_URI_SAFE)}>; rel="{rel}"{extra}'


def _url_in(rest: str, query: str) -> str | None:
    parsed = parse_replay_path(f"/web/0/{rest}", query)
    return parsed[2] if parsed else None


class MementoLayer:
    """ASGI wrapper of the replay app: answers TimeGate and TimeMap requests itself and adds
    the Memento ``Link`` header to every memento the replay app serves."""

    def __init__(self, app: Any, archive: ArchiveReader):
        self.app = app
        self.archive = archive

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path = scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        query = scope.get("query_string", b"").decode("latin-1")
        origin = (scope.get(ORIGINS_SCOPE_KEY) or Origins()).replay
        headers = dict(scope.get("headers") or [])
        response: Response | None = None
        if path.startswith(TIMEMAP_PREFIX):
            response = self.timemap(_url_in(path[len(TIMEMAP_PREFIX):], query), origin)
        elif (gate := TIMEGATE_PATH.match(path)) is not None:
            wanted = headers.get(b"accept-datetime")
            response = self.timegate(
                _url_in(gate["url"], query), origin,
                None if wanted is None else wanted.decode("latin-1"),
            )
        elif (memento := REPLAY_PATH.match(path)) is not None:
            url = _url_in(memento["url"], query)
            send = self._linking(send, url, origin) if url else send
        if response is None:
            await self.app(scope, receive, send)
            return
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        await response(scope, receive, send)

    def mementos(self, url: str | None, origin: str) -> Mementos | None:
        captures = self.archive.captures(url) if url else []
        return Mementos(url, captures, origin) if url and captures else None

    def timemap(self, url: str | None, origin: str) -> Response:
        found = self.mementos(url, origin)
        if found is None:
            return _not_archived(url)
        return Response(found.timemap(), media_type=LINK_FORMAT)

    def timegate(self, url: str | None, origin: str, accept_datetime: str | None) -> Response:
        found = self.mementos(url, origin)
        if found is None:
            return _not_archived(url)
        vary = {"Vary": "accept-datetime"}
        if accept_datetime is None:
            chosen = found.captures[-1]
        else:
            try:
                chosen = nearest(found.captures, parse_accept_datetime(accept_datetime))
            except ValueError:
                return Response("Accept-Datetime must be an HTTP date (RFC 1123)\n",
                                status_code=400, media_type="text/plain", headers=vary)
        links = [found.heads()[0], found.heads()[2], *found.ends()]
        return Response(status_code=302, headers={
            **vary, "Location": found.uri_m(chosen), "Link": ", ".join(links),
        })

    def _linking(self, send: Any, url: str, origin: str) -> Any:
        async def wrapped(message: dict) -> None:
            if message["type"] == "http.response.start":
                served = dict(message.get("headers", [])).get(b"x-archive-capture")
                found = self.mementos(url, origin) if served else None
                capture = next(
                    (c for c in found.captures if c.timestamp == served.decode()), None
                ) if found else None
                if found and capture:
                    message = {**message, "headers": [
                        *message.get("headers", []),
                        (b"link", found.link_header(capture).encode("latin-1")),
                    ]}
            await send(message)

        return wrapped


def _not_archived(url: str | None) -> Response:
    text = f"Not archived: {url}\n" if url else "Not an http(s) URL\n"
    response = Response(text, status_code=404, media_type="text/plain; charset=utf-8")
    response.headers["X-Archive-Status"] = "not-archived"
    return response
