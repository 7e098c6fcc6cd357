"""A raw-socket HTTP server that misbehaves on purpose: one misbehaviour per path.

Every response is written byte by byte by hand (no HTTP library), so lies about framing, broken
header lines and endless bodies reach the crawler exactly as a hostile server would send them.
The connection is closed after each response. ``HostileServer.requests`` logs (path, time).
"""

from __future__ import annotations

import gzip
import random
import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Callable
from email.utils import formatdate
from functools import cache
from types import TracebackType

ARTICLE = (
    "<!doctype html><html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    "<p>{sentence} The harbour authority confirmed the new schedule on Monday after a long "
    "consultation with residents, fishermen and the ferry operators of the northern coast.</p>"
    "<p>Work is expected to start in the spring and to last for about two years.</p>"
    "</article></body></html>"
)
CP1251_SENTENCE = "Городской совет утвердил новый бюджет на следующий год."

Send = Callable[[socket.socket], None]


def article(title: str, sentence: str = "") -> bytes:
    return ARTICLE.format(title=title, sentence=sentence).encode()


def head(status: str, *headers: str) -> bytes:
    return ("\r\n".join([f"HTTP/1.1 {status}", *headers]) + "\r\n\r\n").encode("latin-1")


@cache
def bomb(members: int) -> bytes:
    """``members`` gzip members of 1 MiB of zeros each: ~1 KiB each, 1 MiB each inflated."""
    return gzip.compress(bytes(1 << 20), compresslevel=9) * members


class HostileServer:
    """``with HostileServer() as server: server.url("/bomb")``"""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.requests: list[tuple[str, float]] = []
        self.hits: Counter[str] = Counter()
        self.routes: dict[str, Send] = dict(ROUTES)  # a test may add its own
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def times(self, path: str) -> list[float]:
        return [moment for logged, moment in self.requests if logged == path]

    # -- dispatch --------------------------------------------------------------------------------
    def respond(self, path: str, connection: socket.socket) -> None:
        with self._lock:
            self.requests.append((path, time.monotonic()))
            self.hits[path] += 1
            hit = self.hits[path]
        if path.startswith("/chain/"):
            number = int(path.rsplit("/", 1)[1])
            connection.sendall(head("302 Found", f"Location: /chain/{number + 1}",
                                    "Content-Length: 0"))
            return
        if path.startswith("/retry-after-once") and hit > 1:
            path = "/ok"
        if path.startswith("/retry-date") and hit > 1:
            path = "/ok"
        send = self.routes.get(path.split("?")[0], _not_found)
        send(self, connection)

    # -- slow cases need the stop flag -----------------------------------------------------------
    def trickle(self, connection: socket.socket) -> None:
        connection.sendall(head("200 OK", "Content-Type: text/html; charset=utf-8",
                                "Content-Length: 1000000") + b"<html><body><p>")
        while not self._stop.wait(0.1):
            connection.sendall(b"a")

    def silent(self, connection: socket.socket) -> None:
        while not self._stop.wait(0.1):
            pass


def fixed(status: str, body: bytes, *headers: str) -> Send:
    def send(server: HostileServer, connection: socket.socket) -> None:
        connection.sendall(head(status, *headers, f"Content-Length: {len(body)}") + body)

    return send


def _raw(data: bytes) -> Send:
    def send(server: HostileServer, connection: socket.socket) -> None:
        connection.sendall(data)

    return send


def redirect(location: str, status: str = "302 Found") -> Send:
    return fixed(status, b"", f"Location: {location}")


def _bomb(members: int) -> Send:
    def send(server: HostileServer, connection: socket.socket) -> None:
        body = bomb(members)
        connection.sendall(head("200 OK", "Content-Type: text/html", "Content-Encoding: gzip",
                                f"Content-Length: {len(body)}") + body)

    return send


def _retry(status: str, retry_after: Callable[[], str]) -> Send:
    def send(server: HostileServer, connection: socket.socket) -> None:
        connection.sendall(head(status, f"Retry-After: {retry_after()}", "Content-Length: 0"))

    return send


def _not_found(server: HostileServer, connection: socket.socket) -> None:
    fixed("404 Not Found", b"not here", "Content-Type: text/plain")(server, connection)


_HTML = "Content-Type: text/html; charset=utf-8"
_BODY_100 = b"<html><body><p>" + b"x" * 70 + b"</p></body></html>"
_HUGE_LINE = (  # 10 MB without a single newline
    b"<html><head><title>One long line</title></head><body><article>"
    + b"<p>The long line goes on and on, paragraph after paragraph, without a break.</p>" * 125_000
    + b"</article></body></html>"
)

ROUTES: dict[str, Send] = {
    "/ok": fixed("200 OK", article("Back in service", "The page answered at last."), _HTML),
    "/bomb": _bomb(1024),  # ~1 MB on the wire, 1 GiB inflated
    "/bomb-cut": _bomb(16 * 1024),  # ~16 MB on the wire: over DOWNLOAD_MAXSIZE itself
    "/trickle": HostileServer.trickle,
    "/silent": HostileServer.silent,
    "/loop/a": redirect("/loop/b"),
    "/loop/b": redirect("/loop/a"),
    "/rel/start": redirect("../rel-target/page?x=1", "301 Moved Permanently"),
    "/rel-target/page": fixed("200 OK", article("Relative target"), _HTML),
    "/location-malformed": redirect("http://[::1"),
    "/location-javascript": redirect("javascript:alert(1)"),
    "/location-file": redirect("file:///etc/passwd"),
    "/location-empty": fixed("302 Found", b"", "Location: "),
    "/cl-short": _raw(head("200 OK", _HTML, "Content-Length: 20") + _BODY_100),
    "/cl-long": _raw(head("200 OK", _HTML, "Content-Length: 5000") + _BODY_100),
    "/bad-headers": _raw(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nThis line has no colon\r\n"
        b"X-Fine: yes\r\nBad Name: spaces in the name\r\n : no name\r\nContent-Length: "
        + str(len(article("Bad headers"))).encode() + b"\r\n\r\n" + article("Bad headers")
    ),
    "/chunk-garbage": _raw(  # a first chunk, then a chunk size that is no number
        head("200 OK", _HTML, "Transfer-Encoding: chunked")
        + b"%x\r\n" % len(article("Garbage chunks")) + article("Garbage chunks")
        + b"\r\nzz\r\nmore\r\n0\r\n\r\n"
    ),
    "/no-answer": _raw(b""),  # the connection closed without a byte
    "/no-reason": _raw(
        b"HTTP/1.1 200\r\nContent-Type: text/html\r\nContent-Length: "
        + str(len(article("No reason"))).encode() + b"\r\n\r\n" + article("No reason")
    ),
    "/binary-html": fixed("200 OK", random.Random(7).randbytes(50_000), "Content-Type: text/html"),
    "/huge-line": fixed("200 OK", _HUGE_LINE, _HTML),
    "/random": fixed(  # 8 MB that gzip cannot shrink: a record that takes a while to write
        "200 OK", random.Random(8).randbytes(8 << 20), "Content-Type: application/octet-stream"
    ),
    "/bad-charset": fixed(
        "200 OK", article("Unknown charset", "Smörgåsbord café déjà vu.").replace(b"\n", b""),
        "Content-Type: text/html; charset=x-no-such-charset",
    ),
    "/lying-charset": fixed(
        "200 OK", ARTICLE.format(title="Бюджет", sentence=CP1251_SENTENCE).encode("cp1251"),
        "Content-Type: text/html; charset=utf-8",
    ),
    "/retry-after-once": _retry("503 Service Unavailable", lambda: "1"),
    "/retry-date": _retry(
        "429 Too Many Requests", lambda: formatdate(time.time() + 2, usegmt=True)
    ),
    "/retry-429": _retry("429 Too Many Requests", lambda: "1"),
    "/retry-too-long": _retry("503 Service Unavailable", lambda: "3600"),
}


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HostileServer


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        connection: socket.socket = self.request
        connection.settimeout(30)
        data = b""
        try:
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = connection.recv(4096)
                if not chunk:
                    return
                data += chunk
            target = data.split(b" ", 2)[1].decode("latin-1")
            self.server.owner.respond(target, connection)  # type: ignore[attr-defined]
        except (OSError, IndexError):
            return
        finally:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
