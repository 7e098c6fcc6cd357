"""A small threaded HTTP/1.1 server for fixture news sites, with byte-level control.

Responses are written by hand so that framing (Content-Length, chunked), content
encoding, header order and repeats, and status lines are exactly as declared.
Files are served from a root directory; per-path behaviour comes from an optional
``<root>/_site.json`` mapping a URL path (or path with query) to options:

``status`` (int), ``reason`` (str, "" for none), ``headers`` ([[name, value], ...] emitted
in order, repeats allowed), ``gzip`` (bool), ``encoding`` (str: content codings applied left to
right and sent as ``Content-Encoding``, e.g. ``"gzip, br"``; ``deflate-raw`` is deflate without
its zlib header, sent as ``deflate``), ``chunked`` (bool), ``chunks`` (int, default 3),
``redirect`` (Location; status defaults to 301), ``content_type`` (str), ``file`` (path of
another file under root), ``body`` (literal string body), ``etag`` (str: sent as ETag; a
matching If-None-Match gets a 304).

The placeholder ``{base}`` in text bodies, redirect targets and extra header values is
replaced with :attr:`SiteServer.base_url` when served.
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import socket
import socketserver
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from newsarchive.base.codings import encode_content

__all__ = ["SiteServer", "main"]

SERVER_NAME = "newsarchive-fixture/1"
MAX_LINE = 65536
IDLE_TIMEOUT = 30.0

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".xml": "application/xml",
    ".json": "application/json",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}
_HTML = "text/html; charset=utf-8"

Header = tuple[str, str]
RequestLog = tuple[str, str, list[Header]]


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: list[Header]

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for n, v in self.headers if n.lower() == name), None)

    def wants_close(self) -> bool:
        conn = (self.header("Connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" not in conn
        return "close" in conn


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str | None = _HTML
    headers: list[Header] = field(default_factory=list)
    opts: dict[str, Any] = field(default_factory=dict)


def _is_text(content_type: str) -> bool:
    ct = content_type.lower()
    return ct.startswith("text/") or any(k in ct for k in ("xml", "json", "javascript"))


def _guess_type(path: Path) -> str:
    return _TYPES.get(path.suffix.lower(), "application/octet-stream")


def _small_page(status: int, message: str) -> bytes:
    title = f"{status} {_reason(status)}"
    return (
        f"<!DOCTYPE html>\n<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1><p>{html.escape(message)}</p></body></html>\n"
    ).encode()


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _chunk(body: bytes, parts: int) -> bytes:
    size = max(1, -(-len(body) // max(1, parts)))
    out = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
           for i in range(0, len(body), size)]
    return b"".join(out) + b"0\r\n\r\n"


def _read_request(rfile: BinaryIO) -> _Request | None:
    line = rfile.readline(MAX_LINE)
    while line in (b"\r\n", b"\n"):
        line = rfile.readline(MAX_LINE)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise ValueError(f"bad request line: {line!r}")
    headers: list[Header] = []
    while True:
        raw = rfile.readline(MAX_LINE)
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    request = _Request(parts[0], parts[1], parts[2], headers)
    length = int(request.header("Content-Length") or 0)
    if length:
        rfile.read(length)
    return request


class _TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    site: SiteServer


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer
    request: socket.socket

    def handle(self) -> None:
        site = self.server.site
        site._track(self.request, add=True)
        self.request.settimeout(IDLE_TIMEOUT)
        rfile = self.request.makefile("rb")
        try:
            while site._serve_one(self.request, rfile):
                pass
        except (OSError, ValueError):
            pass
        finally:
            rfile.close()
            site._track(self.request, add=False)


class SiteServer:
    """Serve ``root`` over HTTP/1.1 on ``host:port`` (port 0 picks a free port)."""

    def __init__(self, root: Path | str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.requests: list[RequestLog] = []
        self.sent: dict[str, bytes] = {}
        self.sent_head: dict[str, bytes] = {}
        self.connections = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._server: _TCPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SiteServer:
        """Bind and serve in a background thread; a restart reuses the same port."""
        if self._server is not None:
            return self
        server = _TCPServer((self.host, self.port), _Handler)
        server.site = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"SiteServer:{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, drop open keep-alive connections, release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            conns = list(self._open)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- logs ------------------------------------------------------------------------

    @property
    def paths(self) -> list[str]:
        """Request targets received so far, in order."""
        with self._lock:
            return [target for _, target, _ in self.requests]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.sent.clear()
            self.sent_head.clear()
            self.connections = 0

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._open.add(conn)
                self.connections += 1
            else:
                self._open.discard(conn)

    # -- serving ---------------------------------------------------------------------

    def _serve_one(self, conn: socket.socket, rfile: BinaryIO) -> bool:
        """Answer one request; return whether the connection stays open."""
        try:
            request = _read_request(rfile)
        except ValueError:
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            return False
        if request is None:
            return False
        with self._lock:
            self.requests.append((request.method, request.target, list(request.headers)))
        keep = not request.wants_close()
        head, body, wire = self._render(request, keep)
        with self._lock:
            self.sent[request.target] = body
            self.sent_head[request.target] = head
        conn.sendall(head + wire)
        return keep

    def _render(self, request: _Request, keep: bool) -> tuple[bytes, bytes, bytes]:
        """Return (status line + headers, body as encoded, bytes on the wire after head)."""
        resp = self._respond(request)
        opts = resp.opts
        status = int(opts.get("status", resp.status))
        body = resp.body
        if resp.content_type and _is_text(resp.content_type):
            body = self._subst(body)
        headers: list[Header] = [("Date", formatdate(usegmt=True)), ("Server", SERVER_NAME)]
        if resp.content_type:
            headers.append(("Content-Type", resp.content_type))
        if opts.get("gzip"):
            body = gzip.compress(body, mtime=0)
            headers.append(("Content-Encoding", "gzip"))
        if opts.get("encoding"):
            coding = str(opts["encoding"])
            body = encode_content(body, coding)
            headers.append(("Content-Encoding", coding.replace("deflate-raw", "deflate")))
        etag = opts.get("etag")
        if etag and request.header("If-None-Match") == etag:
            status, body = 304, b""
        chunked = bool(opts.get("chunked")) and status != 304
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        elif status != 304:
            headers.append(("Content-Length", str(len(body))))
        if etag:
            headers.append(("ETag", etag))
        headers += resp.headers
        headers += [(str(n), self._subst_str(str(v))) for n, v in opts.get("headers", [])]
        if not keep:
            headers.append(("Connection", "close"))
        reason = str(opts.get("reason", _reason(status)))
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{n}: {v}" for n, v in headers]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        if request.method == "HEAD" or status == 304:
            body = b""
            return head, body, body
        wire = _chunk(body, int(opts.get("chunks", 3))) if chunked else body
        return head, body, wire

    def _respond(self, request: _Request) -> _Response:
        path = urlsplit(request.target).path or "/"
        opts = self._options(request.target, path)
        if "redirect" in opts:
            location = self._subst_str(str(opts["redirect"]))
            body = f'<html><body><a href="{html.escape(location)}">Moved</a></body></html>\n'
            return _Response(301, body.encode(), headers=[("Location", location)], opts=opts)
        if "body" in opts:
            ctype = opts.get("content_type", _HTML)
            return _Response(200, str(opts["body"]).encode(), ctype, opts=opts)
        target = str(opts.get("file", unquote(path)))
        file = self._find(target)
        if file is None:
            if self._find(target.rstrip("/") + "/") is not None and not path.endswith("/"):
                location = path + "/"
                return _Response(301, _small_page(301, location), headers=[("Location", location)])
            return _Response(404, _small_page(404, f"No such page: {path}"), opts=opts)
        return _Response(200, file.read_bytes(), opts.get("content_type") or _guess_type(file),
                         opts=opts)

    def _options(self, target: str, path: str) -> dict[str, Any]:
        config = self.root / "_site.json"
        if not config.is_file():
            return {}
        table: dict[str, dict[str, Any]] = json.loads(config.read_text("utf-8"))
        return table.get(target) or table.get(path) or {}

    def _find(self, url_path: str) -> Path | None:
        candidate = (self.root / url_path.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.root):
            return None
        if candidate.is_dir():
            if not url_path.endswith("/") and url_path != "":
                return None
            candidate = candidate / "index.html"
        if candidate.name == "_site.json" or not candidate.is_file():
            return None
        return candidate

    def _subst(self, data: bytes) -> bytes:
        return data.replace(b"{base}", self.base_url.encode("ascii"))

    def _subst_str(self, text: str) -> str:
        return text.replace("{base}", self.base_url)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fixture news site.")
    parser.add_argument("root", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    with SiteServer(args.root, args.host, args.port) as server:
        print(f"Serving {args.root} at {server.base_url}/ (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
