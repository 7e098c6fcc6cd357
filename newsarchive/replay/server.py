"""``newsarchive replay``: the archive app and the replay origin, on two ports of one uvicorn.

The archive app listens on ``--port`` (default 8080), archived content on ``--replay-port``
(default the next port; ``--port 0`` picks free ports for both) under its own host name
(``--replay-host``, default replay.localhost). Binds 127.0.0.1 unless told otherwise; while
bound to a loopback address, requests naming another host are refused (a web page cannot reach
the app through DNS rebinding). Reads the output directory only.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
from pathlib import Path
from typing import Any

from newsarchive.replay.app import ORIGINS_SCOPE_KEY, Origins, Site, archive_app, replay_app
from newsarchive.replay.isolation import (
    DEFAULT_REPLAY_HOST,
    IsolatedReplay,
    framed_view,
    is_top_level_navigation,
    respond,
    wrong_host_message,
)
from newsarchive.replay.lookup import ArchiveReader
from newsarchive.replay.memento import MementoLayer
from newsarchive.replay.search import Catalogue, default_cache_path

LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
HOSTNAME = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")  # goes into CSP and links


class PortDispatcher:
    """Routes each connection to the archive app or the replay app by the port it came in on,
    and tells both apps their origins as the browser sees them.

    The app answers to one canonical name (``app_host``; other loopback names are redirected
    to it, so that frame-ancestors and links agree); archived content only to ``replay_host``,
    a name of its own (see :mod:`newsarchive.replay.isolation`).
    """

    def __init__(
        self, site: Site, app_port: int, replay_port: int, loopback_only: bool,
        replay_host: str = DEFAULT_REPLAY_HOST, app_host: str = "127.0.0.1",
    ):
        self.app_name = f"[{app_host}]" if ":" in app_host else app_host.lower()
        self.replay_host = replay_host.lower()
        self.origins = Origins(
            app=f"http://{self.app_name}:{app_port}",
            replay=f"http://{self.replay_host}:{replay_port}",
        )
        self.archive_app = archive_app(site)
        self.replay_app = IsolatedReplay(
            MementoLayer(replay_app(site), site.archive), self.origins.app
        )
        self.app_port = app_port
        self.replay_port = replay_port
        self.loopback_only = loopback_only

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope.get("headers") or [])
        hostname = _hostname(headers.get(b"host", b"").decode("latin-1")).lower()
        if not HOSTNAME.fullmatch(hostname):
            await _refuse(send)
            return
        scope[ORIGINS_SCOPE_KEY] = self.origins
        port = (scope.get("server") or ("", 0))[1]
        if port == self.replay_port:
            await self._replay(hostname, scope, receive, send)
        elif hostname == self.app_name:
            await self.archive_app(scope, receive, send)
        elif hostname != self.replay_host and (
            hostname in LOCAL_NAMES or not self.loopback_only
        ):
            await respond(send, 308, {"Location": self.origins.app + _target(scope)})
        else:
            await _refuse(send)

    async def _replay(self, hostname: str, scope: dict, receive: Any, send: Any) -> None:
        if hostname == self.replay_host:
            await self.replay_app(scope, receive, send)
            return
        # never archived content under the app's (or any other) host name
        headers = dict(scope.get("headers") or [])
        framed = framed_view(
            self.origins.app, scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0],
            scope.get("query_string", b"").decode("latin-1"),
        )
        if framed is not None and is_top_level_navigation(headers):
            await respond(send, 302, {"Location": framed})
            return
        await respond(send, 421, {"Content-Type": "text/plain; charset=utf-8"},
                      wrong_host_message(self.replay_host, self.replay_port))


def _target(scope: dict) -> str:
    path = scope.get("raw_path", b"").decode("latin-1").split("?", 1)[0] or "/"
    query = scope.get("query_string", b"").decode("latin-1")
    return path + (f"?{query}" if query else "")


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


async def _refuse(send: Any) -> None:
    body = b"This archive answers to 127.0.0.1 and localhost only (see --host).\n"
    await respond(send, 421, {"Content-Type": "text/plain"}, body)


def canonical_app_host(bind_host: str) -> str:
    """The one name the app answers to: the bound address, 127.0.0.1 for loopback names,
    this machine's name when bound to every address."""
    if bind_host in ("0.0.0.0", "::", ""):
        return socket.getfqdn()
    if bind_host == "localhost":
        return "127.0.0.1"
    return bind_host


def check_replay_host(replay_host: str, app_host: str) -> str | None:
    """Why ``replay_host`` cannot serve archived content, or None if it can."""
    name = replay_host.lower()
    if not HOSTNAME.fullmatch(name) or name.startswith("["):
        return f"--replay-host {replay_host!r} is not a host name"
    if name in LOCAL_NAMES or name == app_host.lower() or is_loopback(name):
        return (f"--replay-host {replay_host!r} is a name the app or other local services "
                "use; archived pages need a host name of their own (e.g. replay.localhost)")
    return None


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_site(root: Path, cache: Path | None = None) -> Site:
    path = cache or default_cache_path(root)
    if not path.exists():
        print(f"newsarchive replay: building the search catalogue in {path} ...",
              file=sys.stderr, flush=True)
    catalogue = Catalogue(root / "articles", path)
    catalogue.refresh(force=True)
    return Site(root=root, archive=ArchiveReader(root), catalogue=catalogue)
