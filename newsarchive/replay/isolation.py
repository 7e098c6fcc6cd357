"""Keeping archived pages away from the app and from the live web: the replay origin's guard.

Archived content is served under a host name of its own (``replay.localhost`` by default), so
its scripts share neither cookies nor storage with the app or other local services (cookies
ignore ports, host names they do not). A browser that navigates a whole tab to a replayed page
(``Sec-Fetch-Dest: document``) is sent to the app's framed view instead, where the page runs in
a sandboxed frame that can neither navigate the top window nor open windows. Clients that send
no ``Sec-Fetch-*`` headers (curl, Memento clients, pywb-like tools) get the memento itself.
"""

from __future__ import annotations

import os
from typing import Any

from newsarchive.replay.rewrite import REPLAY_PATH

DEFAULT_REPLAY_HOST = "replay.localhost"
REPLAY_HOST_ENV = "NEWSARCHIVE_REPLAY_HOST"


def default_replay_host() -> str:
    """``$NEWSARCHIVE_REPLAY_HOST`` if set, else ``replay.localhost``."""
    return os.environ.get(REPLAY_HOST_ENV) or DEFAULT_REPLAY_HOST


def is_top_level_navigation(headers: dict[bytes, bytes]) -> bool:
    """A browser loading a whole tab or window (not a frame, image, script or fetch)."""
    dest = headers.get(b"sec-fetch-dest")
    if dest is not None:
        return dest.lower() == b"document"
    return headers.get(b"sec-fetch-mode", b"").lower() == b"navigate"  # before Sec-Fetch-Dest


def framed_view(app_origin: str, raw_path: str, query: str) -> str | None:
    """The app's framed view of a replay path ``/web/<timestamp><mode>/<url>``, or None."""
    match = REPLAY_PATH.match(raw_path)
    if match is None:
        return None
    url = match["url"] + (f"?{query}" if query else "")  # as sent: already a request-target
    return f"{app_origin}/replay/{match['ts']}/{url}"


async def respond(send: Any, status: int, headers: dict[str, str], body: bytes = b"") -> None:
    """A whole response through ASGI ``send``."""
    encoded = [(name.lower().encode("latin-1"), value.encode("latin-1"))
               for name, value in headers.items()]
    encoded.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": encoded})
    await send({"type": "http.response.body", "body": body})


class IsolatedReplay:
    """ASGI wrapper of the replay app: top-level browser navigations to a replayed page go to
    the app's framed view; everything else reaches the replay app (``Vary`` says so)."""

    def __init__(self, app: Any, app_origin: str):
        self.app = app
        self.app_origin = app_origin

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        raw_path = scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0]
        if is_top_level_navigation(headers):
            query = scope.get("query_string", b"").decode("latin-1")
            target = framed_view(self.app_origin, raw_path, query)
            if target is not None:
                await respond(send, 302, {
                    "Location": target, "Vary": "Sec-Fetch-Dest, Sec-Fetch-Mode",
                    "Cache-Control": "no-cache", "Content-Type": "text/plain; charset=utf-8",
                }, b"Archived pages are shown inside the archive app.\n")
                return
        await self.app(scope, receive, _replay_headers(send, raw_path))


def _replay_headers(send: Any, raw_path: str) -> Any:
    """Replayed pages depend on Sec-Fetch-Dest/-Mode (a navigation is redirected); and no
    DNS prefetching or navigation preconnects for the live hosts archived pages name."""
    if REPLAY_PATH.match(raw_path) is None:
        return send

    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [
                *message.get("headers", []), (b"vary", b"Sec-Fetch-Dest, Sec-Fetch-Mode"),
                (b"x-dns-prefetch-control", b"off")
            ]}
        await send(message)

    return wrapped


def wrong_host_message(replay_host: str, replay_port: int) -> bytes:
    return (
        f"Archived pages are served to the host name {replay_host} only. Browsers resolve "
        f"*.localhost names to this machine; other clients can connect to 127.0.0.1:"
        f"{replay_port} and send 'Host: {replay_host}:{replay_port}'.\n"
    ).encode()
