"""``newsarchive replay``: the archive app and the replay origin, on two ports of one uvicorn.

The archive app listens on ``--port`` (default 8080), archived content on ``--replay-port``
(default the next port; ``--port 0`` picks free ports for both). Binds 127.0.0.1 unless told
otherwise; while bound to a loopback address, requests naming another host are refused (a
web page cannot reach the app through DNS rebinding). Reads the output directory only.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
from pathlib import Path
from typing import Any

from newsarchive.replay.app import ORIGINS_SCOPE_KEY, Origins, Site, archive_app, replay_app
from newsarchive.replay.lookup import ArchiveReader
from newsarchive.replay.search import Catalogue, default_cache_path

LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
HOSTNAME = re.compile(r"[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]")  # goes into CSP and links


class PortDispatcher:
    """Routes each connection to the archive app or the replay app by the port it came in on,
    and tells both apps their origins as the browser sees them."""

    def __init__(self, site: Site, app_port: int, replay_port: int, loopback_only: bool):
        self.archive_app = archive_app(site)
        self.replay_app = replay_app(site)
        self.app_port = app_port
        self.replay_port = replay_port
        self.loopback_only = loopback_only

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        hostname = _hostname(dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1"))
        if not HOSTNAME.fullmatch(hostname) or (
            self.loopback_only and hostname not in LOCAL_NAMES
        ):
            await _refuse(send)
            return
        scope[ORIGINS_SCOPE_KEY] = Origins(
            app=f"http://{hostname}:{self.app_port}",
            replay=f"http://{hostname}:{self.replay_port}",
        )
        port = (scope.get("server") or ("", 0))[1]
        app = self.replay_app if port == self.replay_port else self.archive_app
        await app(scope, receive, send)


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


async def _refuse(send: Any) -> None:
    body = b"This archive answers to 127.0.0.1 and localhost only (see --host).\n"
    await send({
        "type": "http.response.start",
        "status": 421,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


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
